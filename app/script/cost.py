"""What a render costs: one credit per started second of the movie (ceil of the total)."""

from __future__ import annotations

import math

from app.script.model import Movie

#: Sums of decimal durations are not exact in binary (0.1 + 0.2 = 0.30000000000000004);
#: rounding to nanoseconds first keeps a 3-second movie from costing 4 credits.
_PRECISION = 9


def credits_for_seconds(seconds: float) -> int:
    """ceil(seconds), after rounding away float noise; at least 1 for any positive length."""
    if seconds <= 0:
        return 0
    return max(1, math.ceil(round(seconds, _PRECISION)))


def estimate_credits(movie: Movie) -> int:
    """The credit estimate a render service reserves for `movie`."""
    return credits_for_seconds(movie.total_duration)
