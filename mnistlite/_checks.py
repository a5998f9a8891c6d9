"""The argument checks written once: positive integers, probabilities, finite numbers.

Each check returns the value it was given, so it can be used inline, and raises a
:class:`~mnistlite.errors.MnistliteError` (a :class:`ValueError`) that names the
argument, the allowed range and the value given. :mod:`mnistlite.argtypes` wraps the
same checks for the command line.
"""

from __future__ import annotations

import math
from typing import Any

from mnistlite.errors import MnistliteError

__all__ = [
    "finite_positive",
    "non_negative_int",
    "positive_int",
    "probability",
    "seed",
]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an integer >= 1 (not a bool); else raise."""
    if not _is_int(value) or value < 1:
        raise MnistliteError(f"{name} must be a positive integer (>= 1), got {value!r}")
    return value


def non_negative_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an integer >= 0 (not a bool); else raise."""
    if not _is_int(value) or value < 0:
        raise MnistliteError(f"{name} must be a non-negative integer (>= 0), got {value!r}")
    return value


def probability(name: str, value: Any, *, high_inclusive: bool = False) -> float:
    """Return ``value`` if it is a number in [0, 1) (or [0, 1] with ``high_inclusive``)."""
    ok = _is_number(value) and (0.0 <= value <= 1.0 if high_inclusive else 0.0 <= value < 1.0)
    if not ok:
        interval = "[0, 1]" if high_inclusive else "[0, 1)"
        raise MnistliteError(f"{name} must be a probability in {interval}, got {value!r}")
    return value


def finite_positive(name: str, value: Any) -> float:
    """Return ``value`` if it is a finite number > 0; else raise."""
    if not _is_number(value) or not (math.isfinite(value) and value > 0):
        raise MnistliteError(f"{name} must be a finite positive number, got {value!r}")
    return value


def seed(name: str, value: Any) -> int:
    """Return ``value`` if it is a seed torch accepts: an integer in [-2**63, 2**64 - 1]."""
    if not _is_int(value) or not -(2**63) <= value < 2**64:
        raise MnistliteError(f"{name} must be an integer in [-2**63, 2**64 - 1], got {value!r}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_non_negative(name: str, value: Any) -> float:
    """Return ``value`` if it is a finite number >= 0; else raise."""
    if not _is_number(value) or not (math.isfinite(value) and value >= 0):
        raise MnistliteError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def decay(name: str, value: Any) -> float | None:
    """Return ``value`` if it is None or a number in (0, 1) (an averaging decay)."""
    if value is None:
        return None
    if not _is_number(value) or not 0 < value < 1:
        raise MnistliteError(f"{name} must be a decay in (0, 1) such as 0.999, got {value!r}")
    return float(value)
