"""Kubernetes-style durations (``250ms``, ``30s``, ``1m``, ``1h30m``) as seconds."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"


def parse_duration(value: Any) -> float:
    """Seconds in ``value``: a number (seconds) or a duration string such as ``1m30s``."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        if not re.fullmatch(PATTERN, text):
            raise ValueError(f"not a duration (e.g. 250ms, 30s, 1m, 1h30m): {value!r}")
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    if seconds <= 0:
        raise ValueError(f"a duration must be positive: {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact string form: ``60.0`` → ``1m``, ``0.25`` → ``250ms``."""
    millis = round(seconds * 1000)
    if millis % 1000:
        return f"{millis}ms"
    whole = millis // 1000
    if whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s"


def promql_duration(seconds: float) -> str:
    """A PromQL range duration (whole milliseconds)."""
    millis = max(1, round(seconds * 1000))
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


Duration = Annotated[
    float, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
