"""Circuit breaker per upstream (pure: the caller passes monotonic time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Breaker", "BreakerState"]

BreakerState = Literal["closed", "open", "half_open"]


@dataclass
class Breaker:
    """Opens after ``threshold`` consecutive failures; after ``cooldown_s`` lets one probe through.

    A successful probe closes it; a failed probe opens it again for another cooldown.
    """

    threshold: int = 5
    cooldown_s: float = 30.0
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False

    def state(self, now: float) -> BreakerState:
        if self.opened_at is None:
            return "closed"
        if now - self.opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def allow(self, now: float) -> bool:
        """May a request go to this upstream now? Claims the single half-open probe."""
        state = self.state(now)
        if state == "closed":
            return True
        if state == "half_open" and not self.probing:
            self.probing = True
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failure(self, now: float) -> None:
        self.failures += 1
        self.probing = False
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = now
