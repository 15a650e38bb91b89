"""Keyring on both engines: round trips, isolation, rotation, re-wrapping, derived keys."""

from __future__ import annotations

import pytest
from tests.crypto_support import RecordingAudit

from assay.crypto import Keyring, TenantStore
from assay.errors import CryptoError, ErasedError, NotFoundError, UsageError
from assay.instance import Instance

PLAIN = b"the customer asked about invoice 4411"


def test_round_trip_for_every_key_version(tenants: TenantStore, keyring: Keyring) -> None:
    tenants.create("acme", "cli:alice")
    sealed = []
    for version in range(1, 4):
        envelope = keyring.encrypt("acme", "transcript", f"r{version}", PLAIN + bytes([version]))
        assert int.from_bytes(envelope[4:8], "big") == version
        sealed.append(envelope)
        keyring.rotate("acme", "cli:alice")
    for version, envelope in enumerate(sealed, start=1):
        assert keyring.decrypt("acme", "transcript", f"r{version}", envelope) == PLAIN + bytes(
            [version]
        )
    assert [k.version for k in keyring.list_keys("acme")] == [1, 2, 3, 4]


def test_fresh_keyring_reads_what_another_wrote(
    instance: Instance, audit: RecordingAudit, tenants: TenantStore, keyring: Keyring
) -> None:
    tenants.create("acme", "cli:alice")
    envelope = keyring.encrypt("acme", "message", "m1", PLAIN, subject="user-7")
    other = Keyring.open(instance, audit)
    assert other.decrypt("acme", "message", "m1", envelope) == PLAIN
    assert other.derive_key("acme", "pii") == keyring.derive_key("acme", "pii")


def test_tenant_isolation(tenants: TenantStore, keyring: Keyring) -> None:
    tenants.create("acme", "cli:alice")
    tenants.create("globex", "cli:alice")
    envelope = keyring.encrypt("acme", "transcript", "r1", PLAIN)
    with pytest.raises(CryptoError) as caught:
        keyring.decrypt("globex", "transcript", "r1", envelope)
    assert not isinstance(caught.value, ErasedError)
    assert keyring.derive_key("acme", "pii") != keyring.derive_key("globex", "pii")
    assert keyring.subject_ref("acme", "u1") != keyring.subject_ref("globex", "u1")


def test_derived_key_is_stable_across_rotation(tenants: TenantStore, keyring: Keyring) -> None:
    tenants.create("acme", "cli:alice")
    before = keyring.derive_key("acme", "pii")
    keyring.rotate("acme", "cli:alice")
    keyring.rewrap("acme", "cli:alice")
    keyring.forget("acme")
    assert keyring.derive_key("acme", "pii") == before
    assert keyring.derive_key("acme", "pseudonym") != before


def test_rewrap_moves_data_keys_and_keeps_data_readable(
    instance: Instance, audit: RecordingAudit, tenants: TenantStore, keyring: Keyring
) -> None:
    tenants.create("acme", "cli:alice")
    old = keyring.encrypt("acme", "transcript", "r1", PLAIN)
    keyring.rotate("acme", "cli:alice")
    counts = keyring.rewrap("acme", "cli:alice")
    assert counts == {"acme": 2}  # the data key and the derivation key
    states = {k.version: (k.state, k.data_keys) for k in keyring.list_keys("acme")}
    assert states == {1: ("retired", 0), 2: ("primary", 2)}
    fresh = Keyring.open(instance, audit)
    assert fresh.decrypt("acme", "transcript", "r1", old) == PLAIN
    assert keyring.rewrap(None, "cli:alice") == {"acme": 0}
    assert [e.type for e in audit.events][-3:] == ["key.rotated", "key.rewrapped", "key.rewrapped"]


def test_unknown_and_duplicate_tenants_are_clear_errors(
    tenants: TenantStore, keyring: Keyring
) -> None:
    with pytest.raises(NotFoundError, match="does not exist") as caught:
        keyring.encrypt("nobody", "transcript", "r1", PLAIN)
    assert "assay tenants create nobody" in caught.value.hint
    tenants.create("acme", "cli:alice")
    with pytest.raises(UsageError, match="already exists"):
        tenants.create("acme", "cli:alice")
    with pytest.raises(UsageError, match="invalid tenant name"):
        tenants.create("Not Valid!", "cli:alice")
    with pytest.raises(NotFoundError):
        tenants.erase("nobody", "cli:alice")
    with pytest.raises(NotFoundError):
        keyring.rotate("nobody", "cli:alice")


def test_lease_exhaustion_moves_to_a_new_data_key(
    instance: Instance, audit: RecordingAudit, tenants: TenantStore
) -> None:
    small = Keyring.open(instance, audit, lease_size=4, nonce_budget=8)
    tenants.create("acme", "cli:alice")
    envelopes = [small.encrypt("acme", "k", str(i), PLAIN) for i in range(20)]
    key_ids = {e[8:24] for e in envelopes}
    assert len(key_ids) >= 3  # 8 encryptions per key at most
    for i, envelope in enumerate(envelopes):
        assert small.decrypt("acme", "k", str(i), envelope) == PLAIN


def test_cache_is_bounded_by_count(
    instance: Instance, audit: RecordingAudit, tenants: TenantStore
) -> None:
    bounded = Keyring.open(instance, audit, cache_max_keys=2)
    for name in ("a1", "a2", "a3", "a4"):
        tenants.create(name, "cli:alice")
        bounded.encrypt(name, "k", "r", PLAIN)
    assert len(bounded._cache) <= 2
    for subject in ("s1", "s2", "s3"):
        bounded.encrypt("a1", "k", "r", PLAIN, subject=subject)
    assert len(bounded._active) <= 2 and len(bounded._cache) <= 2


def test_expired_cache_entries_are_swept_and_reloaded(
    instance: Instance, audit: RecordingAudit, tenants: TenantStore
) -> None:
    short = Keyring.open(instance, audit, cache_ttl_s=0.0)
    tenants.create("acme", "cli:alice")
    envelope = short.encrypt("acme", "k", "r", PLAIN)
    assert short.sweep() >= 1
    assert short._cache == {} and short._active == {}
    assert short.decrypt("acme", "k", "r", envelope) == PLAIN
    assert short.encrypt("acme", "k", "r2", PLAIN)[8:24] == envelope[8:24]  # same key adopted


def test_empty_record_ids_are_refused(tenants: TenantStore, keyring: Keyring) -> None:
    tenants.create("acme", "cli:alice")
    with pytest.raises(CryptoError, match="record id"):
        keyring.encrypt("acme", "k", "", PLAIN)
    with pytest.raises(CryptoError, match="record kind"):
        keyring.encrypt("acme", "", "r", PLAIN)


def test_rotating_an_erased_tenant_is_refused(tenants: TenantStore, keyring: Keyring) -> None:
    tenants.create("acme", "cli:alice")
    tenants.erase("acme", "cli:alice")
    with pytest.raises(ErasedError, match="erased on"):
        keyring.rotate("acme", "cli:alice")
    with pytest.raises(ErasedError):
        tenants.erase("acme", "cli:alice")
    with pytest.raises(UsageError, match="was erased on"):
        tenants.create("acme", "cli:alice")


def test_database_failure_on_the_key_path_fails_closed(
    instance: Instance, audit: RecordingAudit, tenants: TenantStore
) -> None:
    from sqlalchemy import text

    from assay.errors import StoreError

    tenants.create("acme", "cli:alice")
    envelope = Keyring.open(instance, audit).encrypt("acme", "k", "r", PLAIN)
    with instance.db.engine.begin() as conn:
        conn.execute(text("DROP TABLE crypto_data_keys"))
    cold = Keyring.open(instance, audit)
    with pytest.raises(StoreError, match="could not prepare an encryption key"):
        cold.encrypt("acme", "k", "r2", PLAIN)
    with pytest.raises(StoreError, match="could not load a data key"):
        cold.decrypt("acme", "k", "r", envelope)
