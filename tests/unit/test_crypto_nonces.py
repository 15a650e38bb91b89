"""The buffered nonce source: right size, never repeats, a forked child starts afresh; record ids."""

from __future__ import annotations

import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.crypto import keyring
from assay.crypto._nonces import NonceSource


@pytest.mark.parametrize(("size", "count"), [(12, 1), (12, 3), (12, 341), (24, 7)])
def test_nonces_have_the_size_and_never_repeat_across_refills(size: int, count: int) -> None:
    source = NonceSource(size, count)
    nonces = [source.take() for _ in range(count * 5 + 1)]
    assert all(len(nonce) == size for nonce in nonces)
    assert len(set(nonces)) == len(nonces)


def test_threads_never_share_a_nonce() -> None:
    source = NonceSource(12, 5)
    taken: list[list[bytes]] = [[] for _ in range(8)]

    def work(slot: int) -> None:
        taken[slot].extend(source.take() for _ in range(2_000))

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [nonce for part in taken for nonce in part]
    assert len(set(every)) == len(every) == 16_000


def test_forget_drops_the_buffered_block() -> None:
    source = NonceSource(12, 100)
    first = source.take()
    source.forget()
    assert source._pending.__length_hint__() == 0  # the state a forked child gets
    assert source.take() != first


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_does_not_reuse_the_parents_nonces() -> None:
    source = NonceSource(12, 100)
    source.take()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the next nonce it draws
        os.close(read)
        os.write(write, source.take())
        os._exit(0)
    os.close(write)
    child_nonce = os.read(read, 12)
    os.close(read)
    os.waitpid(pid, 0)
    assert child_nonce not in {source.take() for _ in range(99)}


@pytest.mark.parametrize(("size", "count"), [(0, 1), (12, 0), (-1, 5)])
def test_bad_parameters_are_rejected(size: int, count: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        NonceSource(size, count)


@settings(max_examples=300)
@given(st.binary(min_size=16, max_size=16))
def test_record_id_encoding_is_rfc4648_base32(raw: bytes) -> None:
    assert keyring._b32_128(raw) == keyring._b32(raw)


def test_record_ids_are_26_base32_characters_and_unique() -> None:
    ids = [keyring.new_record_id() for _ in range(2_000)]
    assert all(len(i) == 26 and set(i) <= set("abcdefghijklmnopqrstuvwxyz234567") for i in ids)
    assert len(set(ids)) == len(ids)
