"""Circuit breaker per upstream (pure: the caller passes monotonic time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["STATE_CODES", "Breaker", "BreakerState"]

BreakerState = Literal["closed", "open", "half_open"]

#: The value of the ``assay_gateway_breaker_state`` gauge for each state.
STATE_CODES: dict[BreakerState, int] = {"closed": 0, "half_open": 1, "open": 2}


@dataclass
class Breaker:
    """Opens after ``threshold`` consecutive failures; after ``cooldown_s`` lets one probe through.

    A successful probe closes it; a failed probe opens it again for another cooldown. A probe
    is claimed with :meth:`claim` just before the attempt and must end in :meth:`success`,
    :meth:`failure` or :meth:`release` (the attempt was abandoned, e.g. cancelled). A probe
    left unresolved for ``probe_timeout_s`` is presumed lost and another may go.
    """

    threshold: int = 5
    cooldown_s: float = 30.0
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False
    probe_timeout_s: float = 120.0
    probe_since: float = 0.0
    _ticket: int = field(default=0, init=False, repr=False)

    def state(self, now: float) -> BreakerState:
        if self.opened_at is None:
            return "closed"
        if now - self.opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def claim(self, now: float) -> int | None:
        """Ask to send one request now: None if refused, 0 if closed, else the probe's ticket.

        Call it only when the request is about to be sent; give a ticket back with
        :meth:`release` if the attempt ends without :meth:`success` or :meth:`failure`.
        """
        state = self.state(now)
        if state == "closed":
            return 0
        if state == "half_open" and (not self.probing or now - self.probe_since >= self.probe_timeout_s):
            self.probing = True
            self.probe_since = now
            self._ticket += 1
            return self._ticket
        return None

    def allow(self, now: float) -> bool:
        """May a request go to this upstream now? Claims the single half-open probe."""
        return self.claim(now) is not None

    def release(self, ticket: int | None) -> None:
        """Give back the probe ``ticket`` if it is still unresolved (the attempt was abandoned).

        A no-op for 0/None, after success or failure, and for a probe that timed out and was
        claimed again by someone else.
        """
        if ticket and self.probing and ticket == self._ticket:
            self.probing = False

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failure(self, now: float) -> None:
        self.failures += 1
        self.probing = False
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = now
