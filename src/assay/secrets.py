"""Local secret files in the data directory: created once, mode 0600, checked on read.

A secret file with group or world permissions is refused rather than used,
because a readable key is a leaked key.
"""

from __future__ import annotations

import os
import secrets as _random
import stat
from pathlib import Path

from assay.errors import ConfigError

__all__ = [
    "LEDGER_KEY",
    "MASTER_KEY",
    "SESSION_KEY",
    "check_private",
    "ensure_secret",
    "read_secret",
]

MASTER_KEY = "master.key"
LEDGER_KEY = "ledger.key"
SESSION_KEY = "session.key"
LOCAL_SECRETS = (MASTER_KEY, LEDGER_KEY, SESSION_KEY)


def check_private(path: Path) -> None:
    """Raise unless only the owner can read or write ``path``."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"{path} has permissions {mode:04o}; secrets must be readable by the owner only",
            hint=f"Run `chmod 600 {path}` (and `chmod 700` on its directory).",
        )


def ensure_secret(data_dir: Path, name: str, nbytes: int = 32) -> bytes:
    """Return the secret ``name``, creating it with random bytes if absent."""
    path = data_dir / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_secret(data_dir, name)
    with os.fdopen(fd, "wb") as handle:
        handle.write(_random.token_bytes(nbytes))
        handle.flush()
        os.fsync(handle.fileno())
    return read_secret(data_dir, name)


def read_secret(data_dir: Path, name: str) -> bytes:
    """Read an existing secret, refusing loose permissions."""
    path = data_dir / name
    if not path.is_file():
        raise ConfigError(
            f"secret file {path} is missing",
            hint=f"Run `assay init --data-dir {data_dir}` to create it.",
        )
    check_private(path)
    value = path.read_bytes()
    if not value:
        raise ConfigError(f"secret file {path} is empty", hint="Restore it from backup.")
    return value
