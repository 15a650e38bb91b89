"""Every single-byte change and every wrong associated datum fails with a typed error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.crypto import Keyring, TenantStore
from assay.errors import CryptoError

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_:", min_size=1, max_size=24)
plain = st.binary(min_size=0, max_size=256)
slow_ok = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def two_tenants(tenants: TenantStore) -> TenantStore:
    tenants.create("acme", "cli:test")
    tenants.create("globex", "cli:test")
    return tenants


@slow_ok
@given(plaintext=plain, kind=ids, record_id=ids, delta=st.integers(1, 255), subject=st.booleans())
def test_every_single_byte_change_fails(
    two_tenants: TenantStore,
    keyring: Keyring,
    plaintext: bytes,
    kind: str,
    record_id: str,
    delta: int,
    subject: bool,
) -> None:
    envelope = keyring.encrypt("acme", kind, record_id, plaintext, "s-1" if subject else None)
    assert keyring.decrypt("acme", kind, record_id, envelope) == plaintext
    for position in range(len(envelope)):
        tampered = bytearray(envelope)
        tampered[position] ^= delta
        with pytest.raises(CryptoError):
            keyring.decrypt("acme", kind, record_id, bytes(tampered))


@slow_ok
@given(
    plaintext=plain,
    kind=ids,
    record_id=ids,
    cut=st.integers(1, 40),
    extra=st.binary(min_size=1, max_size=8),
)
def test_truncated_or_extended_envelopes_fail(
    two_tenants: TenantStore,
    keyring: Keyring,
    plaintext: bytes,
    kind: str,
    record_id: str,
    cut: int,
    extra: bytes,
) -> None:
    envelope = keyring.encrypt("acme", kind, record_id, plaintext)
    for changed in (envelope[:-cut], envelope + extra, envelope[cut:]):
        with pytest.raises(CryptoError):
            keyring.decrypt("acme", kind, record_id, changed)


@slow_ok
@given(plaintext=plain, kind=ids, record_id=ids, other=ids)
def test_every_wrong_associated_datum_fails(
    two_tenants: TenantStore,
    keyring: Keyring,
    plaintext: bytes,
    kind: str,
    record_id: str,
    other: str,
) -> None:
    envelope = keyring.encrypt("acme", kind, record_id, plaintext)
    wrong = [("globex", kind, record_id)]
    if other != kind:
        wrong.append(("acme", other, record_id))
    if other != record_id:
        wrong.append(("acme", kind, other))
    for tenant, wrong_kind, wrong_id in wrong:
        with pytest.raises(CryptoError):
            keyring.decrypt(tenant, wrong_kind, wrong_id, envelope)


@slow_ok
@given(a=st.tuples(ids, ids), b=st.tuples(ids, ids))
def test_framing_is_unambiguous(
    two_tenants: TenantStore, keyring: Keyring, a: tuple[str, str], b: tuple[str, str]
) -> None:
    """("ab","c") and ("a","bc") must not share associated data."""
    if a == b:
        return
    envelope = keyring.encrypt("acme", a[0], a[1], b"x")
    with pytest.raises(CryptoError):
        keyring.decrypt("acme", b[0], b[1], envelope)
