"""Any sequence of writes, rotations, re-wraps and subject erasures keeps every promise.

Promises checked after every step: each record not erased decrypts to what was written, under
the key version it was written with; each record of an erased subject gives ErasedError.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from assay.config import Settings
from assay.crypto import Keyring, TenantStore
from assay.errors import ErasedError, NotFoundError
from assay.instance import init_instance, open_instance
from assay.ledger import AuditLog

SUBJECTS = st.sampled_from([None, "u1", "u2"])


class KeyringMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="assay-crypto-sm-"))
        conf = Settings(data_dir=self.root / "data")
        init_instance(conf)
        self.instance = open_instance(conf)
        self.audit = AuditLog.open(self.instance)
        self.keyring = Keyring.open(self.instance, self.audit, lease_size=2, nonce_budget=4)
        TenantStore(self.instance, self.audit, self.keyring).create("acme", "cli:test")
        self.records: dict[str, tuple[bytes, bytes, str | None]] = {}
        self.erased: set[str] = set()
        self.version = 1

    @rule(text=st.binary(max_size=64), subject=SUBJECTS)
    def write(self, text: bytes, subject: str | None) -> None:
        record_id = f"r{len(self.records)}"
        envelope = self.keyring.encrypt("acme", "note", record_id, text, subject)
        assert int.from_bytes(envelope[4:8], "big") == self.version
        self.records[record_id] = (text, envelope, subject)

    @rule()
    def rotate(self) -> None:
        self.version = self.keyring.rotate("acme", "cli:test")

    @rule()
    def rewrap(self) -> None:
        self.keyring.rewrap("acme", "cli:test")

    @rule(subject=st.sampled_from(["u1", "u2"]))
    def erase_subject(self, subject: str) -> None:
        has_keys = any(
            s == subject and r not in self.erased for r, (_, _, s) in self.records.items()
        )
        try:
            self.keyring.erase_subject("acme", subject, "cli:test")
        except NotFoundError:
            assert not has_keys
            return
        self.erased |= {r for r, (_, _, s) in self.records.items() if s == subject}

    @rule()
    def restart(self) -> None:
        """A new process: nothing cached."""
        self.keyring = Keyring.open(self.instance, self.audit, lease_size=2, nonce_budget=4)

    @invariant()
    def everything_reads_back(self) -> None:
        for record_id, (text, envelope, _subject) in self.records.items():
            if record_id in self.erased:
                with pytest.raises(ErasedError):
                    self.keyring.decrypt("acme", "note", record_id, envelope)
            else:
                assert self.keyring.decrypt("acme", "note", record_id, envelope) == text

    def teardown(self) -> None:
        self.audit.close()
        self.instance.close()
        shutil.rmtree(self.root, ignore_errors=True)


KeyringMachine.TestCase.settings = settings(max_examples=8, stateful_step_count=15, deadline=None)
TestKeyringStates = KeyringMachine.TestCase
