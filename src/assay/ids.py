"""Random ids that are safe to record in the ledger.

The ledger's screen refuses any value shaped like personal data. Sixteen random hex characters
are all digits about once in 1,850 draws, and such a run can pass the payment-card check (or look
like a phone number), so recording the id would fail. :func:`hex_id` never returns one.
"""

from __future__ import annotations

import secrets

__all__ = ["hex_id"]


def hex_id() -> str:
    """16 lowercase hex characters (64 random bits), at least one of them a letter."""
    while True:
        drawn = secrets.token_hex(8)
        if not drawn.isdigit():
            return drawn
