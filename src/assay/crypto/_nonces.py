"""Random 96-bit GCM nonces drawn from the operating system's CSPRNG in blocks.

One ``getrandom`` system call per nonce costs about a third of sealing a 4 KiB
record; reading a few KiB at a time and handing out 12-byte slices keeps every
nonce exactly as random (``os.urandom`` is still the only source) for a
fraction of the cost. The standard library has no buffered CSPRNG (``secrets``
calls ``os.urandom`` each time), hence this small class.

Safety: each slice is handed out once (``next`` on a list iterator is atomic
under the GIL, and a refill installs a fresh iterator), and a forked child drops
the block it inherited, so two processes never draw the same nonce.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

__all__ = ["NONCE_BLOCK", "NonceSource"]

NONCE_BLOCK = 341  # 341 x 12 = 4,092 bytes: one system call per 341 nonces


class NonceSource:
    """Hands out random nonces of ``size`` bytes, ``count`` per system call."""

    __slots__ = ("_count", "_pending", "_size")

    def __init__(self, size: int = 12, count: int = NONCE_BLOCK) -> None:
        if size <= 0 or count <= 0:
            raise ValueError("nonce size and block count must be positive")
        self._size = size
        self._count = count
        self._pending: Iterator[bytes] = iter(())
        os.register_at_fork(after_in_child=self.forget)

    def take(self) -> bytes:
        """A fresh random nonce, never returned before by this source."""
        nonce = next(self._pending, None)
        return self._refill() if nonce is None else nonce

    def forget(self) -> None:
        """Drop the unused nonces (a forked child must not reuse its parent's)."""
        self._pending = iter(())

    def _refill(self) -> bytes:
        size = self._size
        block = os.urandom(size * self._count)
        nonces = [block[start : start + size] for start in range(0, len(block), size)]
        self._pending = iter(nonces[1:])
        return nonces[0]
