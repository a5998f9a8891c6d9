"""Argument types of the command line, built on the library's checks (:mod:`mnistlite._checks`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from mnistlite import _checks
from mnistlite.errors import MnistliteError

__all__ = ["port_int", "positive_float", "positive_int", "seed_int"]

T = TypeVar("T")


def _parse(text: str, convert: Callable[[str], T], check: Callable[[str, Any], T], what: str) -> T:
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    try:
        return check("the value", value)
    except MnistliteError as err:
        raise argparse.ArgumentTypeError(
            str(err).replace("the value must be", "expected")
        ) from None


def positive_int(text: str) -> int:
    """Parse an integer >= 1, or raise :class:`argparse.ArgumentTypeError`."""
    return _parse(text, int, _checks.positive_int, "a positive integer")


def positive_float(text: str) -> float:
    """Parse a finite number > 0, or raise :class:`argparse.ArgumentTypeError`."""
    return _parse(text, float, _checks.finite_positive, "a positive number")


def seed_int(text: str) -> int:
    """Parse a random seed: an integer in [-2**63, 2**64 - 1], as torch.manual_seed takes."""
    return _parse(text, int, _checks.seed, "an integer seed")


def port_int(text: str) -> int:
    """Parse a TCP port: an integer in [0, 65535] (0 asks the system for a free one)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {value}")
    return value


def decay_float(text: str) -> float:
    """Parse an averaging decay in (0, 1), or raise :class:`argparse.ArgumentTypeError`."""
    return _parse(text, float, _checks.decay, "a decay in (0, 1) such as 0.999")
