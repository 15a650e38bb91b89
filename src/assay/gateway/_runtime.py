"""Process-level tuning of the serving process: request ids and the garbage collector.

Both exist for the latency of the request path (ADR 0042):

* A request id needs to be unique, not secret. ``uuid4`` reads 16 bytes from the kernel for
  every request, and that system call releases the GIL: while the ledger's sequencer thread
  holds it, the event loop waits for the switch interval. Ids here are a random 64-bit prefix
  per process (drawn again after ``fork``) and a 64-bit counter: 32 hex characters, the same
  shape as before, unique across replicas with the prefix's collision probability.
* CPython's full collection walks every tracked object. A serving process holds hundreds of
  thousands of long-lived ones (compiled detectors, phone metadata, the ORM and framework), so a
  full collection stalled the event loop for 15-150 ms: the tail of the latency. After start-up
  they are moved out of the collector's reach (``gc.freeze``) and young collections run less
  often; garbage made while serving is still collected.
"""

from __future__ import annotations

import gc
import itertools
import os

__all__ = ["GC_THRESHOLDS", "new_request_id", "settle_gc"]

#: (young, middle, old) collection thresholds while serving (CPython's default is 700, 10, 10).
GC_THRESHOLDS = (20_000, 20, 20)


class _Ids:
    __slots__ = ("counter", "pid", "prefix")

    def __init__(self) -> None:
        self.pid = -1
        self.prefix = ""
        self.counter = itertools.count()

    def next(self) -> str:
        if self.pid != os.getpid():  # first use, or a forked worker: never share a prefix
            self.pid = os.getpid()
            self.prefix = os.urandom(8).hex()
            self.counter = itertools.count(int.from_bytes(os.urandom(4), "big"))
        return f"{self.prefix}{next(self.counter) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


_IDS = _Ids()


def new_request_id() -> str:
    """A process-unique request id (32 lowercase hex characters) without a system call."""
    return _IDS.next()


def settle_gc() -> None:
    """Collect once, freeze what survived start-up, and space out young collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
