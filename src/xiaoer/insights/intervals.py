"""95% confidence intervals for the A/B report: Wilson score interval for a proportion,
Newcombe's hybrid score interval for a difference of proportions, and t intervals for means
(one mean; Welch for a difference)."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def as_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


def wilson(successes: int, n: int, z: float = Z95) -> Interval | None:
    """Wilson score interval of successes/n; None without observations."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def proportion_difference(x1: int, n1: int, x2: int, n2: int) -> Interval | None:
    """p2 − p1 with Newcombe's hybrid score interval (method 10), built from both Wilson
    intervals; None when either side has no observations."""
    a, b = wilson(x1, n1), wilson(x2, n2)
    if a is None or b is None:
        return None
    d = b.estimate - a.estimate
    low = d - math.sqrt((b.estimate - b.low) ** 2 + (a.high - a.estimate) ** 2)
    high = d + math.sqrt((b.high - b.estimate) ** 2 + (a.estimate - a.low) ** 2)
    return Interval(d, low, high)


def _variance(n: int, total: float, squares: float) -> float:
    mean = total / n
    return max(0.0, (squares - n * mean * mean) / (n - 1))


def mean_interval(n: int, total: float, squares: float) -> Interval | None:
    """t interval of a mean from its count, sum and sum of squares; None below 2 values."""
    if n < 2:
        return None
    mean = total / n
    from scipy import stats as _stats  # SciPy takes seconds to import; only charts need it

    half = float(_stats.t.ppf(0.975, n - 1)) * math.sqrt(_variance(n, total, squares) / n)
    return Interval(mean, mean - half, mean + half)


def mean_difference(
    n1: int, total1: float, squares1: float, n2: int, total2: float, squares2: float
) -> Interval | None:
    """mean2 − mean1 with Welch's t interval; None when either side has fewer than 2 values."""
    if n1 < 2 or n2 < 2:
        return None
    v1 = _variance(n1, total1, squares1) / n1
    v2 = _variance(n2, total2, squares2) / n2
    d = total2 / n2 - total1 / n1
    se = math.sqrt(v1 + v2)
    if se == 0:
        return Interval(d, d, d)
    df = (v1 + v2) ** 2 / ((v1 * v1) / (n1 - 1) + (v2 * v2) / (n2 - 1))
    from scipy import stats as _stats

    half = float(_stats.t.ppf(0.975, df)) * se
    return Interval(d, d - half, d + half)
