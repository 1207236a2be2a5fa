"""Declared value ranges of a component's arguments, checked in one place.

A component (model family, objective, prior, GAN term, net, data module, metric) declares what
each numeric argument means as a class attribute and checks it first thing in ``__init__``::

    class GradientPenalty(GANTerm):
        RANGES = {"weight": Num(low=0), "every": Num(integer=True, low=1)}

        def __init__(self, weight: float = 10.0, every: int = 1) -> None:
            check_ranges(self, weight=weight, every=every)

so NaN, infinities, negative, zero or fractional values that would silently change training,
and strings where numbers belong, fail with a message naming the argument, the value and the
allowed range. Hydra adds the config key (``full_key: model.d_terms.gp``) to the error, and
genlab's run pipeline prints the two together. A leaf module: imports nothing of genlab.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any


class RangeError(ValueError):
    """A value outside its declared range; the message names the argument and the range."""


@dataclass(frozen=True)
class Num:
    """A number's declared range.

    Args:
        integer: only whole numbers (``1.5`` and ``True`` are refused; ``2.0`` is accepted).
        low, high: bounds (None = unbounded); ``low_open``/``high_open`` exclude the bound.
        optional: None is allowed (e.g. "no limit", "off").
        finite: refuse NaN and infinities (default True; NaN is always refused).
    """

    integer: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False
    finite: bool = True

    def describe(self) -> str:
        """Return the range in words, e.g. 'an integer >= 1' or 'a finite number in [0, 1)'."""
        kind = "an integer" if self.integer else ("a finite number" if self.finite else "a number")
        if self.low is not None and self.high is not None:
            lo, hi = "(" if self.low_open else "[", ")" if self.high_open else "]"
            text = f"{kind} in {lo}{_fmt(self.low)}, {_fmt(self.high)}{hi}"
        elif self.low is not None:
            text = f"{kind} {'>' if self.low_open else '>='} {_fmt(self.low)}"
        elif self.high is not None:
            text = f"{kind} {'<' if self.high_open else '<='} {_fmt(self.high)}"
        else:
            text = kind
        return text + (" or null" if self.optional else "")

    def problem(self, value: Any) -> str | None:
        """Return why ``value`` is outside the range, or None when it is fine."""
        if value is None:
            return None if self.optional else "a value is required"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return f"got {type(value).__name__} {value!r}, not a number"
        v = float(value)
        if math.isnan(v) or (self.finite and math.isinf(v)):
            return "not finite"
        if self.integer and not v.is_integer():
            return "not a whole number"
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return "too small"
        if self.high is not None and (v > self.high or (self.high_open and v == self.high)):
            return "too large"
        return None


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def check_ranges(owner: object, **values: Any) -> None:
    """Check ``values`` against ``owner.RANGES`` (a dict name -> :class:`Num`); raise
    :class:`RangeError` naming the class, the argument, the value and the allowed range.
    Names without a declared range are not checked."""
    ranges: dict[str, Num] = getattr(owner, "RANGES", {})
    cls = owner if isinstance(owner, type) else type(owner)
    for name, value in values.items():
        spec = ranges.get(name)
        if spec is None:
            continue
        why = spec.problem(value)
        if why is not None:
            raise RangeError(
                f"{cls.__name__}: {name}={value!r} is invalid ({why}): expected {spec.describe()}."
            )
