"""One ledger and one keyring per process: shared by every component, closed with the instance."""

from __future__ import annotations

import threading

import pytest

from assay.crypto import Keyring
from assay.errors import LedgerError
from assay.instance import Instance
from assay.ledger import AuditLog, Event


def test_shared_objects_are_made_once_and_closed_newest_first(instance: Instance) -> None:
    closed: list[str] = []

    class Service:
        def __init__(self, name: str) -> None:
            self.name = name

        def close(self) -> None:
            closed.append(self.name)

    first = instance.shared("a", lambda: Service("a"))
    assert instance.shared("a", lambda: Service("other")) is first
    instance.shared("b", lambda: Service("b"))
    instance.close()
    assert closed == ["b", "a"]


def test_keyring_and_ledger_are_one_per_process(instance: Instance) -> None:
    found: list[Keyring] = []
    threads = [threading.Thread(target=lambda: found.append(Keyring.shared(instance))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(k) for k in found}) == 1
    assert found[0].audit is AuditLog.shared(instance)


def test_closing_the_instance_stops_the_shared_ledger(instance: Instance) -> None:
    log = AuditLog.shared(instance)
    assert log.append(Event(type="test.shared", actor="cli:alice")) == 0
    instance.close()
    with pytest.raises(LedgerError, match="closed"):
        log.append(Event(type="test.shared", actor="cli:alice"))
