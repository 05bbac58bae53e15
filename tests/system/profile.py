"""How hard the system suite pushes: the bounded profile runs in ``make test``; ``make soak``
sets ``SYSTEM_HEAVY=1`` for the longer, heavier variants of the same scenarios."""

from __future__ import annotations

import os

HEAVY = os.environ.get("SYSTEM_HEAVY", "") not in ("", "0", "false")


def pick(bounded: int, heavy: int) -> int:
    """``bounded`` in ``make test``, ``heavy`` under ``make soak``."""
    return heavy if HEAVY else bounded
