"""The gateway's hot path on both engines: a transcript shares its ledger event's commit,
and verified API keys are reused for a bounded time."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from tests.crypto_support import RecordingAudit

from assay.crypto import TRANSCRIPTS, TenantStore, TranscriptVault
from assay.crypto.models import TranscriptRow
from assay.errors import LedgerError
from assay.gateway._audit import LedgerSink
from assay.gateway.keys import ApiKeyStore, KeyRejectedError
from assay.instance import Instance
from assay.ledger import Event, LedgerEntry

SECRET = b"Jane Roe, card 4111 1111 1111 1111: marker-5e1d"


def _event(n: int) -> Event:
    return Event(type="gateway.request", actor="apikey:k1", tenant="acme", attributes={"n": n})


def _counts(instance: Instance) -> tuple[int, int]:
    with instance.db.session() as session:
        entries = session.scalar(select(func.count()).select_from(LedgerEntry))
        transcripts = session.scalar(select(func.count()).select_from(TranscriptRow))
    return int(entries or 0), int(transcripts or 0)


def test_sealed_transcripts_commit_with_their_events(
    instance: Instance, audit: RecordingAudit, tenants: TenantStore, vault: TranscriptVault
) -> None:
    tenants.create("acme", "cli:alice", retention_days=10)
    sealed = [vault.seal("acme", f"conv-{n}", SECRET + bytes([n]), retention_days=3) for n in range(20)]
    base, stored = _counts(instance)
    assert stored == 0  # sealing stores nothing

    async def append_all() -> list[int]:
        jobs = [audit.inner.append_async(_event(n), [(TRANSCRIPTS, s.row)]) for n, s in enumerate(sealed)]
        return list(await asyncio.gather(*jobs))

    indices = asyncio.run(append_all())
    assert sorted(indices) == list(range(base, base + 20))
    assert _counts(instance) == (base + 20, 20)
    for n, s in enumerate(sealed):
        assert vault.read(s.stored.id, actor="cli:bob", reason="test") == SECRET + bytes([n])
    assert {info.ciphertext_sha256 for info in vault.list("acme")} == {s.stored.ciphertext_sha256 for s in sealed}


def test_a_refused_companion_row_fails_only_its_own_event(
    instance: Instance, audit: RecordingAudit, tenants: TenantStore, vault: TranscriptVault
) -> None:
    tenants.create("acme", "cli:alice", retention_days=10)
    good = [vault.seal("acme", f"conv-{n}", SECRET, retention_days=3) for n in range(5)]
    stored = vault.store("acme", "conv-x", SECRET, retention_days=3)
    duplicate = {**good[0].row, "id": stored.id}  # the primary key is taken: the insert is refused
    base = _counts(instance)[0]

    async def append_all() -> list[int | BaseException]:
        jobs = [audit.inner.append_async(_event(n), [(TRANSCRIPTS, s.row)]) for n, s in enumerate(good)]
        jobs.append(audit.inner.append_async(_event(99), [(TRANSCRIPTS, duplicate)]))
        return list(await asyncio.gather(*jobs, return_exceptions=True))

    results = asyncio.run(append_all())
    assert isinstance(results[-1], LedgerError)
    assert sorted(r for r in results[:-1] if isinstance(r, int)) == list(range(base, base + 5))
    assert _counts(instance) == (base + 5, 6)  # nothing of the refused event, neither entry nor row


def test_ledger_sink_passes_companions(
    instance: Instance, audit: RecordingAudit, tenants: TenantStore, vault: TranscriptVault
) -> None:
    tenants.create("acme", "cli:alice", retention_days=10)
    sealed = vault.seal("acme", "conv-1", SECRET, retention_days=3)
    sink = LedgerSink(audit.inner)
    base = _counts(instance)[0]
    index = asyncio.run(sink.append(
        "gateway.request", actor="apikey:k1", tenant="acme", object_ids={"transcript_id": sealed.stored.id},
        attributes={}, companions=[(TRANSCRIPTS, sealed.row)],
    ))
    assert index == base
    assert _counts(instance) == (base + 1, 1)


def _create_key(store: ApiKeyStore) -> str:
    created = asyncio.run(store.create("acme", "app", actor="cli:alice"))
    return str(created[1])


@pytest.mark.parametrize(("revoked_by", "cache_s", "still_accepted"), [
    ("same store", 60.0, False),   # a revocation through the serving store applies at once
    ("other store", 60.0, True),   # another process's revocation waits for the cache bound
    ("other store", 0.0, False),   # with no cache, at once
])
def test_key_cache_and_revocation(
    instance: Instance, audit: RecordingAudit, revoked_by: str, cache_s: float, still_accepted: bool
) -> None:
    sink = LedgerSink(audit.inner)
    serving = ApiKeyStore(instance.db, instance.clock, sink, cache_s=cache_s)
    secret = _create_key(serving)
    key = serving.verify(secret)
    revoker = serving if revoked_by == "same store" else ApiKeyStore(instance.db, instance.clock, sink)
    asyncio.run(revoker.revoke(key.id, actor="cli:alice"))
    if still_accepted:
        assert serving.verify(secret).id == key.id
        return
    with pytest.raises(KeyRejectedError, match="revoked"):
        serving.verify(secret)


def test_cached_key_still_needs_the_whole_secret(instance: Instance, audit: RecordingAudit) -> None:
    store = ApiKeyStore(instance.db, instance.clock, LedgerSink(audit.inner), cache_s=60.0)
    secret = _create_key(store)
    store.verify(secret)
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    with pytest.raises(KeyRejectedError, match="Incorrect"):
        store.verify(forged)


def test_a_key_id_that_looks_like_a_card_number_is_drawn_again(
    instance: Instance, audit: RecordingAudit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sixteen digits passing the Luhn check are refused by the ledger's personal-data screen."""
    import assay.ids

    draws = iter(["5895902531660557", "00000000000000a1"])
    monkeypatch.setattr(assay.ids.secrets, "token_hex", lambda n: next(draws))
    store = ApiKeyStore(instance.db, instance.clock, LedgerSink(audit.inner))
    key, secret = asyncio.run(store.create("acme", "app", actor="cli:alice"))
    assert key.id == "00000000000000a1"
    assert store.verify(secret).id == key.id
