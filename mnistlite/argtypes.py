"""Argument types shared by the command-line parsers (``cli`` and ``sweep``)."""

from __future__ import annotations

import argparse
import math

__all__ = ["positive_float", "positive_int", "seed_int"]


def positive_int(text: str) -> int:
    """Parse an integer >= 1, or raise :class:`argparse.ArgumentTypeError`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    """Parse a finite number > 0, or raise :class:`argparse.ArgumentTypeError`."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {value}")
    return value


def seed_int(text: str) -> int:
    """Parse a random seed: an integer in [-2**63, 2**64 - 1], as torch.manual_seed takes."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not -(2**63) <= value < 2**64:
        raise argparse.ArgumentTypeError(f"a seed must lie in [-2**63, 2**64 - 1], got {value}")
    return value
