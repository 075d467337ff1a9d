"""The frame compositor: what the movie shows at time t, as a QImage (spec §2–§3).

One `Compositor` per movie (per render worker or preview). `render_frame(t, scale)` paints scene
backgrounds, elements in order (later on top), element animations and scene transitions with a
QPainter on an ARGB32-premultiplied QImage. Media comes from a `MediaProvider`, so the same code
serves the studio preview (decoding at reduced size, on a cache) and the final render.

Media that cannot be read never crashes a frame: the element is drawn as a placeholder (a dark box
with a diagonal cross) and the problem is recorded under the element's path; in strict mode (the
final render) it raises `RenderError` instead, naming the element path and the file.

Decisions the spec leaves open, made here and relied on by tests:

- Output pixels: `QImage.Format_ARGB32_Premultiplied` (fastest for Qt's raster painter), always
  opaque; `frame_to_rgb` gives the encoder an (H, W, 3) uint8 array.
- Motion names say where things move: `slide-in-left` moves leftwards (enters from the right
  edge), `slide-in-up` moves upwards (enters from the bottom); the `slide-left` transition pushes
  both scenes leftwards; `wipe-left` reveals the new scene from the right edge towards the left.
- Ken Burns: `zoom-in` scales the content 1.0 → 1.2 about the box centre over the element's life,
  `zoom-out` 1.2 → 1.0; `pan-left`/`pan-right` show the content at 1.2 and move it across by the
  extra 20 % of the box width. Pictures are clipped to their box; text moves as a whole and is not
  clipped (cutting letters off at the box edge is never what a creator wants).
- Slides ease out (cubic) over `animation_duration`; slide transitions ease in and out; fades,
  crossfades and wipes are linear.
- Video timing: source time = `trim_start` + time since the element started. With `loop` it wraps
  at the source's end; without it the last frame holds. A video with `duration: null` and no
  `loop` disappears when its source ends (§3 "also ends when its source ends").
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from app.media.errors import MediaError
from app.media.picture import Picture
from app.render.colors import over_black
from app.render.fonts import ensure_qt
from app.render.text import text_box_size, text_margin, text_sprite
from app.script.layout import anchor
from app.script.model import (
    AudioElement,
    ImageElement,
    Movie,
    Scene,
    TextElement,
    VideoElement,
)
from app.script.sources import Source, resolve_src
from app.script.timeline import EPSILON, Timeline

#: How far Ken Burns zooms and pans enlarge the content.
KEN_BURNS_ZOOM = 1.2
#: Byte budget of the cache of converted and pre-scaled still images.
STILL_CACHE_BYTES = 512 * 1024 * 1024

#: The format of every frame: Qt's raster painter is fastest on it.
FRAME_FORMAT = QImage.Format.Format_ARGB32_Premultiplied
#: What failed media looks like: a dark box with a red diagonal cross.
PLACEHOLDER_FILL = QColor(32, 32, 36)
PLACEHOLDER_LINE = QColor(230, 70, 70)

_KEN_BURNS = frozenset({"zoom-in", "zoom-out", "pan-left", "pan-right"})

PictureElement = ImageElement | VideoElement


class MediaProvider(Protocol):
    """Where the compositor gets pixels. The engine and the preview implement it over app/media.

    Every method raises `MediaError` for media that cannot be opened or decoded; sources come
    already resolved against the script's folder (`app.script.sources.Source`, a URL or a path).
    Implementations should cache: `still` and `video_duration` are asked on every frame that
    shows the element (the compositor caches converted stills, but only after a successful load).
    """

    def still(self, source: Source) -> Picture:
        """The image at `source` (first frame of an animated image), EXIF orientation applied."""
        ...

    def video_frame(self, source: Source, source_time: float) -> Picture:
        """The frame on screen at `source_time` seconds into the file (trim, loop and hold are
        already applied by the compositor; at or past the end, the last frame)."""
        ...

    def video_duration(self, source: Source) -> float | None:
        """The video's length in seconds, or None when the file does not say."""
        ...


@dataclass(frozen=True)
class ElementError:
    """Media of one element that could not be shown: `path` like `scenes.1.elements.0`."""

    path: str
    src: str
    message: str
    reason: str


class RenderError(Exception):
    """A strict render met media it cannot show; names the element and its file."""

    def __init__(self, path: str, src: str, message: str, reason: str = "") -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.src = src
        self.message = message
        self.reason = reason


def canvas_size(movie: Movie, scale: float = 1.0) -> tuple[int, int]:
    """The output size at `scale`: round(width × scale) × round(height × scale), kept even
    because H.264/yuv420p needs even dimensions."""
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")

    def even(value: float) -> int:
        return max(2, 2 * round(value / 2))

    return even(movie.width * scale), even(movie.height * scale)


def frame_to_rgb(image: QImage) -> npt.NDArray[np.uint8]:
    """A C-contiguous (H, W, 3) uint8 RGB copy of a frame, for the encoder."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    height, width, stride = rgb.height(), rgb.width(), rgb.bytesPerLine()
    buffer = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=height * stride)
    rows = buffer.reshape(height, stride)[:, : width * 3]
    # Always a copy: the buffer belongs to `rgb`, which is freed when this function returns.
    return rows.copy().reshape(height, width, 3)


def bgra_view(image: QImage) -> npt.NDArray[np.uint8]:
    """An (H, W, 4) view of a frame's pixels without copying, in memory byte order: B, G, R, A
    for `FRAME_FORMAT` on little-endian machines (alpha 255: frames are opaque, so premultiplied
    equals straight). Valid only while `image` lives and is not painted on."""
    if image.format() != FRAME_FORMAT:
        raise ValueError("expected a compositor frame (ARGB32 premultiplied)")
    height, width, stride = image.height(), image.width(), image.bytesPerLine()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=height * stride)
    return buffer.reshape(height, stride // 4, 4)[:, :width]


def rgba_view(pixels: npt.NDArray[np.uint8]) -> QImage:
    """A QImage viewing C-contiguous (H, W, 4) straight-alpha RGBA pixels without copying.

    The QImage does not own the memory: the caller must keep `pixels` alive while it is used.
    """
    if not pixels.flags.c_contiguous:
        raise ValueError("pixels must be C-contiguous")
    height, width = pixels.shape[:2]
    return QImage(pixels.data, width, height, width * 4, QImage.Format.Format_RGBA8888)


class _ImageCache:
    """Least-recently-used QImages within a byte budget."""

    def __init__(self, max_bytes: int) -> None:
        self._items: OrderedDict[object, QImage] = OrderedDict()
        self._bytes = 0
        self._max = max_bytes

    def get(self, key: object) -> QImage | None:
        image = self._items.get(key)
        if image is not None:
            self._items.move_to_end(key)
        return image

    def put(self, key: object, image: QImage) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= old.sizeInBytes()
        self._items[key] = image
        self._bytes += image.sizeInBytes()
        while self._bytes > self._max and len(self._items) > 1:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= dropped.sizeInBytes()


@dataclass(frozen=True)
class _Canvas:
    """Script px → output px: `sx`, `sy`; `width`, `height` in output px."""

    movie_width: float
    movie_height: float
    width: int
    height: int

    @property
    def sx(self) -> float:
        return self.width / self.movie_width

    @property
    def sy(self) -> float:
        return self.height / self.movie_height


@dataclass(frozen=True)
class _Motion:
    """An element's animation state at one time: opacity factor, slide offset in script px,
    Ken Burns zoom and pan (pan as a fraction of the box width)."""

    alpha: float = 1.0
    dx: float = 0.0
    dy: float = 0.0
    zoom: float = 1.0
    pan: float = 0.0


def _clamp01(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


def _phase(coordinate: float) -> float:
    """The sub-pixel part of an output coordinate, in eighths (enough, and keeps caches small)."""
    return (round(coordinate * 8) % 8) / 8


def _ease_out(p: float) -> float:
    return 1.0 - (1.0 - p) ** 3


def _ease_in_out(p: float) -> float:
    return p * p * (3.0 - 2.0 * p)


def fit_rect(fit: str, box: QRectF, natural_width: float, natural_height: float) -> QRectF:
    """Where a picture of natural size lands for a `fit` mode, in the box's coordinates.

    contain letterboxes inside the box, cover fills it (overflow is clipped by the caller),
    fill stretches, none keeps the natural size; all are centred in the box.
    """
    if natural_width <= 0 or natural_height <= 0:
        return QRectF(box)
    if fit == "fill":
        return QRectF(box)
    if fit == "none":
        w, h = natural_width, natural_height
    else:
        ratios = (box.width() / natural_width, box.height() / natural_height)
        k = max(ratios) if fit == "cover" else min(ratios)
        w, h = natural_width * k, natural_height * k
    return QRectF(box.center().x() - w / 2, box.center().y() - h / 2, w, h)


class Compositor:
    """Paints the frames of one movie.

    `base_dir` is the script file's folder (relative `src` resolve against it). With
    `strict=True` unreadable media raises `RenderError`; otherwise it is drawn as a placeholder,
    listed in `errors` (once per element) and passed to `on_error` the first time.
    Not thread-safe: use one compositor per thread or process.
    """

    def __init__(
        self,
        movie: Movie,
        media: MediaProvider,
        base_dir: Path | None = None,
        *,
        strict: bool = False,
        on_error: Callable[[ElementError], None] | None = None,
    ) -> None:
        ensure_qt()
        self.movie = movie
        self.media = media
        self.base_dir = base_dir
        self.strict = strict
        self.on_error = on_error
        self.timeline = Timeline(movie)
        self._errors: dict[str, ElementError] = {}
        self._sources: dict[str, Source] = {}
        self._stills = _ImageCache(STILL_CACHE_BYTES)
        self._layer: QImage | None = None

    # -- public -------------------------------------------------------------------------------

    @property
    def errors(self) -> list[ElementError]:
        """Media problems met so far, one per element path, in the order they happened."""
        return list(self._errors.values())

    def clear_errors(self) -> None:
        self._errors.clear()

    def size(self, scale: float = 1.0) -> tuple[int, int]:
        return canvas_size(self.movie, scale)

    def render_frame(self, t: float, scale: float = 1.0) -> QImage:
        """The frame at movie time `t` (seconds, clamped to the movie) at `scale`.

        Format_ARGB32_Premultiplied, fully opaque, `canvas_size(movie, scale)` pixels. Every
        length in the script scales with `scale`, so any scale shows the same picture.
        """
        width, height = self.size(scale)
        canvas = _Canvas(self.movie.width, self.movie.height, width, height)
        image = QImage(width, height, FRAME_FORMAT)
        moment = self.timeline.moment(t)
        painter = QPainter(image)
        try:
            if moment.outgoing is None:
                self._paint_scene(painter, canvas, moment.scene, moment.scene_time, False)
            else:
                self._paint_transition(
                    painter,
                    canvas,
                    moment.outgoing,
                    moment.outgoing_time,
                    moment.scene,
                    moment.scene_time,
                    moment.progress,
                )
        finally:
            painter.end()
        return image

    def render_rgb(self, t: float, scale: float = 1.0) -> npt.NDArray[np.uint8]:
        """`render_frame` as an (H, W, 3) uint8 RGB array, for the encoder."""
        return frame_to_rgb(self.render_frame(t, scale))

    # -- transitions ----------------------------------------------------------------------------

    def _scratch(self, canvas: _Canvas) -> QImage:
        layer = self._layer
        if layer is None or layer.width() != canvas.width or layer.height() != canvas.height:
            layer = QImage(canvas.width, canvas.height, FRAME_FORMAT)
            self._layer = layer
        return layer

    def _paint_layer(self, canvas: _Canvas, index: int, scene_time: float, run_on: bool) -> QImage:
        layer = self._scratch(canvas)
        painter = QPainter(layer)
        try:
            self._paint_scene(painter, canvas, index, scene_time, run_on)
        finally:
            painter.end()
        return layer

    def _paint_transition(
        self,
        painter: QPainter,
        canvas: _Canvas,
        outgoing: int,
        outgoing_time: float,
        incoming: int,
        incoming_time: float,
        progress: float,
    ) -> None:
        """Scene `incoming` replaces `outgoing` (which runs on past its end) at `progress`."""
        transition = self.movie.scenes[incoming].transition
        kind = transition.type if transition else "crossfade"
        w, h = canvas.width, canvas.height
        p = _clamp01(progress)
        if kind == "crossfade":
            self._paint_scene(painter, canvas, outgoing, outgoing_time, True)
            layer = self._paint_layer(canvas, incoming, incoming_time, False)
            painter.setOpacity(p)
            painter.drawImage(0, 0, layer)
            painter.setOpacity(1.0)
        elif kind == "fade":
            # Out to scene i's background colour over the first half, in from it over the second.
            background = over_black(self.movie.scenes[incoming].background)
            if p < 0.5:
                self._paint_scene(painter, canvas, outgoing, outgoing_time, True)
                painter.setOpacity(p * 2)
                painter.fillRect(QRect(0, 0, w, h), background)
            else:
                painter.fillRect(QRect(0, 0, w, h), background)
                layer = self._paint_layer(canvas, incoming, incoming_time, False)
                painter.setOpacity(p * 2 - 1)
                painter.drawImage(0, 0, layer)
            painter.setOpacity(1.0)
        elif kind.startswith("slide-"):
            e = _ease_in_out(p)
            direction = {
                "slide-left": (-1, 0),
                "slide-right": (1, 0),
                "slide-up": (0, -1),
                "slide-down": (0, 1),
            }[kind]
            ox = round(direction[0] * e * w)
            oy = round(direction[1] * e * h)
            ix = ox - direction[0] * w
            iy = oy - direction[1] * h
            for index, time, run_on, dx, dy in (
                (outgoing, outgoing_time, True, ox, oy),
                (incoming, incoming_time, False, ix, iy),
            ):
                painter.save()
                painter.translate(dx, dy)
                painter.setClipRect(QRect(0, 0, w, h))
                self._paint_scene(painter, canvas, index, time, run_on)
                painter.restore()
        else:  # wipe-left reveals from the right edge, wipe-right from the left edge
            self._paint_scene(painter, canvas, outgoing, outgoing_time, True)
            edge = round(p * w)
            if edge > 0:
                layer = self._paint_layer(canvas, incoming, incoming_time, False)
                left = w - edge if kind == "wipe-left" else 0
                painter.drawImage(QRect(left, 0, edge, h), layer, QRect(left, 0, edge, h))

    # -- scenes and elements ----------------------------------------------------------------------

    def _paint_scene(
        self, painter: QPainter, canvas: _Canvas, index: int, scene_time: float, run_on: bool
    ) -> None:
        """Paint scene `index` at `scene_time`; `run_on` = it is the outgoing scene of a
        transition, so elements that last to its end go on past it."""
        scene = self.movie.scenes[index]
        painter.fillRect(QRect(0, 0, canvas.width, canvas.height), over_black(scene.background))
        for j, element in enumerate(scene.elements):
            if isinstance(element, AudioElement):
                continue
            window = self._window(element, scene, scene_time, run_on)
            if window is None:
                continue
            start, end = window
            path = f"scenes.{index}.elements.{j}"
            painter.save()
            try:
                if isinstance(element, TextElement):
                    self._paint_text(painter, canvas, element, scene_time, start, end)
                else:
                    self._paint_picture(
                        painter, canvas, element, scene, scene_time, start, end, run_on
                    )
            except MediaError as error:
                self._report(path, element, error)
                painter.restore()
                painter.save()
                self._paint_placeholder(painter, canvas, element, scene_time, start, end)
            finally:
                painter.restore()

    @staticmethod
    def _window(
        element: TextElement | PictureElement, scene: Scene, scene_time: float, run_on: bool
    ) -> tuple[float, float] | None:
        """(start, end) in scene time if the element shows at `scene_time`, else None.

        `end` is the nominal end (cut at the scene end) that animations use; an outgoing scene's
        elements that reach its end stay visible while it runs on.
        """
        start = element.start
        end = scene.duration
        if element.duration is not None:
            end = min(end, start + element.duration)
        visible_until = end
        if run_on and end >= scene.duration - EPSILON:
            visible_until = math.inf
        if scene_time + EPSILON < start or scene_time >= visible_until - EPSILON:
            return None
        return start, end

    @staticmethod
    def _motion(
        element: TextElement | PictureElement,
        scene_time: float,
        start: float,
        end: float,
        left: float,
        top: float,
        box_w: float,
        box_h: float,
        canvas: _Canvas,
    ) -> _Motion:
        animation = element.animation
        local = scene_time - start
        span = element.animation_duration
        if animation == "none":
            return _Motion()
        if animation.startswith("fade"):
            alpha = 1.0
            if animation in ("fade-in", "fade-in-out"):
                alpha = min(alpha, _clamp01(local / span))
            if animation in ("fade-out", "fade-in-out"):
                alpha = min(alpha, _clamp01((end - scene_time) / span))
            return _Motion(alpha=alpha)
        if animation.startswith("slide-in-"):
            remaining = 1.0 - _ease_out(_clamp01(local / span))
            if animation == "slide-in-left":  # moves left: starts just past the right edge
                return _Motion(dx=(canvas.movie_width - left) * remaining)
            if animation == "slide-in-right":  # moves right: starts just past the left edge
                return _Motion(dx=-(left + box_w) * remaining)
            if animation == "slide-in-up":  # moves up: starts just below the bottom edge
                return _Motion(dy=(canvas.movie_height - top) * remaining)
            return _Motion(dy=-(top + box_h) * remaining)  # slide-in-down
        life = end - start
        p = _clamp01(local / life) if life > 0 else 1.0
        if animation == "zoom-in":
            return _Motion(zoom=1.0 + (KEN_BURNS_ZOOM - 1.0) * p)
        if animation == "zoom-out":
            return _Motion(zoom=KEN_BURNS_ZOOM - (KEN_BURNS_ZOOM - 1.0) * p)
        travel = (KEN_BURNS_ZOOM - 1.0) / 2
        offset = travel * (1.0 - 2.0 * p)  # pan-left: +travel → -travel
        return _Motion(zoom=KEN_BURNS_ZOOM, pan=offset if animation == "pan-left" else -offset)

    def _paint_text(
        self,
        painter: QPainter,
        canvas: _Canvas,
        element: TextElement,
        scene_time: float,
        start: float,
        end: float,
    ) -> None:
        layout_w, layout_h = text_box_size(element, canvas.movie_width)
        margin = text_margin(element, canvas.movie_width, canvas.movie_height)
        left, top = anchor(
            element.position, layout_w, layout_h, canvas.movie_width, canvas.movie_height, margin
        )
        left += element.x
        top += element.y
        motion = self._motion(
            element, scene_time, start, end, left, top, layout_w, layout_h, canvas
        )
        alpha = element.opacity * motion.alpha
        if alpha <= 0.0:
            return
        painter.setOpacity(alpha)
        x = (left + motion.dx) * canvas.sx
        y = (top + motion.dy) * canvas.sy
        still = motion.dx == 0.0 and motion.dy == 0.0 and motion.zoom == 1.0
        phase = (_phase(x), _phase(y)) if still and motion.pan == 0.0 else (0.0, 0.0)
        sprite = text_sprite(element, canvas.movie_width, canvas.sx, phase)
        if still and motion.pan == 0.0:
            painter.drawImage(
                QPointF(round(x - sprite.origin.x()), round(y - sprite.origin.y())), sprite.image
            )
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        half_w = sprite.box_width * canvas.sx / 2
        half_h = sprite.box_height * canvas.sy / 2
        painter.translate(x + half_w + motion.pan * 2 * half_w, y + half_h)
        painter.scale(motion.zoom, motion.zoom)
        painter.drawImage(
            QPointF(-half_w - sprite.origin.x(), -half_h - sprite.origin.y()), sprite.image
        )

    def _picture_box(self, element: PictureElement) -> tuple[float, float, float, float]:
        box_w = element.width or float(self.movie.width)
        box_h = element.height or float(self.movie.height)
        left, top = anchor(element.position, box_w, box_h, self.movie.width, self.movie.height)
        return left + element.x, top + element.y, box_w, box_h

    def _source(self, src: str) -> Source:
        source = self._sources.get(src)
        if source is None:
            source = resolve_src(src, self.base_dir)
            self._sources[src] = source
        return source

    def _paint_picture(
        self,
        painter: QPainter,
        canvas: _Canvas,
        element: PictureElement,
        scene: Scene,
        scene_time: float,
        start: float,
        end: float,
        run_on: bool,
    ) -> None:
        source = self._source(element.src)
        video_time = 0.0
        if isinstance(element, VideoElement):
            duration = self.media.video_duration(source)
            local = scene_time - start
            video_time = element.trim_start + local
            if duration is not None:
                remaining = duration - element.trim_start
                if element.loop and remaining > 0:
                    video_time = element.trim_start + math.fmod(local, remaining)
                else:
                    if element.duration is None and not element.loop and local >= remaining:
                        return  # the source has ended, and so has the element
                    video_time = min(video_time, duration)
        left, top, box_w, box_h = self._picture_box(element)
        motion = self._motion(element, scene_time, start, end, left, top, box_w, box_h, canvas)
        alpha = element.opacity * motion.alpha
        if alpha <= 0.0:
            return
        box = QRectF(
            (left + motion.dx) * canvas.sx,
            (top + motion.dy) * canvas.sy,
            box_w * canvas.sx,
            box_h * canvas.sy,
        )
        if isinstance(element, VideoElement):
            picture = self.media.video_frame(source, max(0.0, video_time))
            natural_w, natural_h = picture.width, picture.height
        else:
            full = self._still(source)
            natural_w, natural_h = full.width(), full.height()
        target = fit_rect(element.fit, box, natural_w * canvas.sx, natural_h * canvas.sy)
        if motion.zoom != 1.0 or motion.pan != 0.0:
            center = box.center()
            w = target.width() * motion.zoom
            h = target.height() * motion.zoom
            cx = center.x() + (target.center().x() - center.x()) * motion.zoom
            cx += motion.pan * box.width()
            cy = center.y() + (target.center().y() - center.y()) * motion.zoom
            target = QRectF(cx - w / 2, cy - h / 2, w, h)
        painter.setOpacity(alpha)
        painter.setClipRect(box, Qt.ClipOperation.IntersectClip)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if isinstance(element, VideoElement):
            pixels = np.ascontiguousarray(picture.pixels)  # kept alive while the view paints
            painter.drawImage(target, rgba_view(pixels))
            return
        zoom_max = KEN_BURNS_ZOOM if element.animation in _KEN_BURNS else 1.0
        prepared = self._scaled_still(
            source,
            full,
            round(target.width() / motion.zoom * zoom_max),
            round(target.height() / motion.zoom * zoom_max),
        )
        if prepared.width() == round(target.width()) and prepared.height() == round(
            target.height()
        ):
            painter.drawImage(QPointF(round(target.x()), round(target.y())), prepared)
        else:
            painter.drawImage(target, prepared)

    def _still(self, source: Source) -> QImage:
        """The still at full size, converted once to the painter's fastest format."""
        key = ("full", source)
        image = self._stills.get(key)
        if image is None:
            pixels = np.ascontiguousarray(self.media.still(source).pixels)
            image = rgba_view(pixels).convertToFormat(FRAME_FORMAT)  # a copy that owns its pixels
            self._stills.put(key, image)
        return image

    def _scaled_still(self, source: Source, full: QImage, width: int, height: int) -> QImage:
        """The still resampled once (area-averaged) to the size it is drawn at, so frames only
        blit it (or resample by at most the Ken Burns zoom)."""
        width, height = max(1, width), max(1, height)
        if width == full.width() and height == full.height():
            return full
        key = ("scaled", source, width, height)
        image = self._stills.get(key)
        if image is None:
            image = full.scaled(
                width,
                height,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self._stills.put(key, image)
        return image

    def _paint_placeholder(
        self,
        painter: QPainter,
        canvas: _Canvas,
        element: TextElement | PictureElement,
        scene_time: float,
        start: float,
        end: float,
    ) -> None:
        """A dark box with a red diagonal cross where media failed, so the gap is obvious."""
        if isinstance(element, TextElement):
            return
        left, top, box_w, box_h = self._picture_box(element)
        motion = self._motion(element, scene_time, start, end, left, top, box_w, box_h, canvas)
        box = QRectF(
            (left + motion.dx) * canvas.sx,
            (top + motion.dy) * canvas.sy,
            box_w * canvas.sx,
            box_h * canvas.sy,
        )
        painter.setOpacity(element.opacity * motion.alpha)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(box, PLACEHOLDER_FILL)
        pen = QPen(PLACEHOLDER_LINE, max(1.0, 4.0 * canvas.sx))
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        painter.setClipRect(box, Qt.ClipOperation.IntersectClip)
        painter.setPen(pen)
        inner = box.adjusted(
            pen.widthF() / 2, pen.widthF() / 2, -pen.widthF() / 2, -pen.widthF() / 2
        )
        painter.drawRect(inner)
        painter.drawLine(inner.topLeft(), inner.bottomRight())
        painter.drawLine(inner.topRight(), inner.bottomLeft())

    def _report(self, path: str, element: TextElement | PictureElement, error: MediaError) -> None:
        src = getattr(element, "src", "")
        if self.strict:
            raise RenderError(path, src, str(error), error.reason) from error
        if path in self._errors:
            return
        problem = ElementError(path, src, str(error), error.reason)
        self._errors[path] = problem
        if self.on_error is not None:
            self.on_error(problem)
