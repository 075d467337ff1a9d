"""Timing of a movie (spec §2–§3): scene starts, element intervals, transition windows.

Scene i starts at the sum of the durations before it; the movie lasts the sum of all durations
(transitions do not shorten it). A transition on scene i blends scene i-1 into scene i over the
first `d` seconds of scene i, and scene i-1 is drawn as if it ran on for `d` more seconds.

Element intervals here are what the script alone says: `start` to `start + duration` (or to the
scene end), cut at the scene end. A video or audio source without `loop` may end earlier than
that; only the media layer knows its length, so the renderer applies that cut itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.script.model import Element, Movie, Transition

#: Times within this many seconds of a boundary count as on it (float sums are not exact).
EPSILON = 1e-9


@dataclass(frozen=True)
class SceneSpan:
    """Scene `index` plays from `start` to `end` (absolute seconds)."""

    index: int
    start: float
    end: float
    transition: Transition | None

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def transition_end(self) -> float:
        """When the blend from the previous scene is over (== start without a transition)."""
        return self.start + (self.transition.duration if self.transition else 0.0)


@dataclass(frozen=True)
class ElementSpan:
    """Element `element` of scene `scene`, active from `start` to `end` (absolute seconds)."""

    scene: int
    element: int
    start: float
    end: float


@dataclass(frozen=True)
class Moment:
    """What is on screen at one time: the scene, and during a transition the outgoing scene.

    `progress` is how far the transition has gone (0 → 1); `outgoing_time` is the time inside
    the outgoing scene, which runs on past its end during the transition.
    """

    time: float
    scene: int
    scene_time: float
    outgoing: int | None = None
    outgoing_time: float = 0.0
    progress: float = 1.0


class Timeline:
    """The timing of one movie; all times in seconds."""

    def __init__(self, movie: Movie) -> None:
        self.movie = movie
        spans: list[SceneSpan] = []
        start = 0.0
        for i, scene in enumerate(movie.scenes):
            end = start + scene.duration
            spans.append(SceneSpan(i, start, end, scene.transition if i else None))
            start = end
        self.scenes = spans
        self.total = movie.total_duration

    def frame_count(self, fps: float | None = None) -> int:
        """round(total duration × fps): the number of frames a render writes."""
        return max(1, round(self.total * (fps or self.movie.fps)))

    def element_span(self, scene_index: int, element_index: int) -> ElementSpan:
        scene = self.scenes[scene_index]
        element: Element = self.movie.scenes[scene_index].elements[element_index]
        start = scene.start + element.start
        end = scene.end if element.duration is None else start + element.duration
        return ElementSpan(scene_index, element_index, start, min(end, scene.end))

    def element_spans(self) -> list[ElementSpan]:
        return [
            self.element_span(i, j)
            for i, scene in enumerate(self.movie.scenes)
            for j in range(len(scene.elements))
        ]

    def scene_at(self, t: float) -> int:
        """The index of the scene playing at `t` (clamped to the movie)."""
        if t <= 0:
            return 0
        lo, hi = 0, len(self.scenes) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.scenes[mid].start <= t + EPSILON:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def moment(self, t: float) -> Moment:
        """What plays at time `t` (clamped to [0, total))."""
        t = min(max(t, 0.0), max(self.total - EPSILON, 0.0))
        index = self.scene_at(t)
        span = self.scenes[index]
        scene_time = max(0.0, t - span.start)
        transition = span.transition
        if transition is not None and index > 0 and scene_time < transition.duration:
            previous = self.scenes[index - 1]
            return Moment(
                time=t,
                scene=index,
                scene_time=scene_time,
                outgoing=index - 1,
                outgoing_time=t - previous.start,
                progress=scene_time / transition.duration,
            )
        return Moment(time=t, scene=index, scene_time=scene_time)

    def frame_time(self, frame: int, fps: float | None = None) -> float:
        """The time of frame `frame` (frame n shows time n / fps)."""
        return frame / (fps or self.movie.fps)
