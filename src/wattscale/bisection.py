"""Bisection on a monotone yes/no question: the one search behind every sizing here (a power floor, a smoother's
time constant, a ramp rate, the largest campus or load loss a system takes)."""
from __future__ import annotations

from collections.abc import Callable


def smallest_passing(passes: Callable[[float], bool], lo: float, hi: float, tol: float) -> float | None:
    """Smallest x in [lo, hi] with ``passes(x)`` (false below, true above), to ``tol``; None if even ``hi`` fails."""
    if not passes(hi):
        return None
    if passes(lo):
        return lo
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if passes(mid) else (mid, hi)
    return hi


def largest_passing(passes: Callable[[float], bool], lo: float, hi: float, tol: float, *, rel_tol: float = 0.0,
                    max_steps: int = 200) -> float:
    """Largest x in [lo, hi] with ``passes(x)`` (true below, false above), to ``tol`` or ``rel_tol`` of x, whichever
    is looser; ``lo`` when nothing above it passes (it is taken to pass)."""
    if passes(hi):
        return hi
    for _ in range(max_steps):
        if hi - lo <= max(tol, rel_tol * abs(lo)):
            break
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if passes(mid) else (lo, mid)
    return lo
