"""Checking a user's values: each field's type and range, and the message that refuses one.

A refusal is an ``InputError`` (a ValueError) whose text starts with the
field's name as the user wrote it -- ``until_ms: ...``,
``threads[reader].think_us: ...`` -- and says what is allowed.
"""
from __future__ import annotations

import math
import numbers

from .errors import InputError


def refuse(field: str, text: str) -> InputError:
    """The error for ``field``: raise what this returns."""
    return InputError(f"{field}: {text}")


def number(name, value):
    """A real number (numpy's included), not a bool, not NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise refuse(name, f"must be a number, got {value!r}")


def whole(name, value):
    """A whole number (numpy's included), not a bool."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise refuse(name, f"must be a whole number, got {value!r}")


def positive(name, value, integer=False):
    number(name, value)
    if integer:
        whole(name, value)
    if not value > 0 or math.isinf(value):
        raise refuse(name, f"must be a finite number greater than 0, got {value!r}")


def at_least(name, value, low, integer=False):
    number(name, value)
    if integer:
        whole(name, value)
    if value < low or math.isinf(value):
        raise refuse(name, f"must be a finite number >= {low}, got {value!r}")
