"""The movie script as typed models: every field of shared/spec/movie-script.md with its default.

These models are the single source of truth for the document: the JSON Schema in `schema.py` is
generated from them, the renderer reads scripts through them, and the studio's inspector builds
its editors from their field metadata (`Field.description`, bounds, enums, defaults).

Rules that need more than one field (a transition on the first scene, a transition longer than
its scene, an element starting after its scene ends) are checked by `Movie`'s validator *and*
reported with exact paths by `lint.script_rules`, so `Movie.model_validate` succeeds exactly when
`validate` reports no error.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: `#RGB`, `#RRGGBB` or `#RRGGBBAA`.
COLOR_PATTERN = r"^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})$"
#: http(s) and file URLs, absolute and relative paths; any other URL scheme is refused.
#: A one-letter "scheme" is a Windows drive (`C:\clips\a.mp4`), so it is allowed.
SRC_PATTERN = r"^(?:(?:https?|file)://\S.*|(?![A-Za-z][A-Za-z0-9+.\-]+:)\S.*)$"
#: An absolute http(s) URL.
URL_PATTERN = r"^https?://[^\s/?#]+[^\s]*$"

Position = Literal[
    "top-left",
    "top-center",
    "top-right",
    "center-left",
    "center",
    "center-right",
    "bottom-left",
    "bottom-center",
    "bottom-right",
]
Animation = Literal[
    "none",
    "fade-in",
    "fade-out",
    "fade-in-out",
    "zoom-in",
    "zoom-out",
    "pan-left",
    "pan-right",
    "slide-in-left",
    "slide-in-right",
    "slide-in-up",
    "slide-in-down",
]
TransitionType = Literal[
    "fade",
    "crossfade",
    "slide-left",
    "slide-right",
    "slide-up",
    "slide-down",
    "wipe-left",
    "wipe-right",
]
Fit = Literal["contain", "cover", "fill", "none"]
Quality = Literal["low", "medium", "high"]
ExportType = Literal["s3", "ftp", "sftp", "email", "youtube"]

_COLOR_MESSAGE = "Invalid colour. Expected #RGB, #RRGGBB or #RRGGBBAA, received {value}"
_SRC_MESSAGE = (
    "Invalid media source. Expected an http(s):// or file:// URL or a file path, received {value}"
)

Color = Annotated[
    str,
    Field(pattern=COLOR_PATTERN, json_schema_extra={"errorMessage": _COLOR_MESSAGE}),
]
Src = Annotated[
    str,
    Field(
        min_length=1,
        pattern=SRC_PATTERN,
        description="An http(s):// or file:// URL, an absolute path, or a path relative to "
        "the script's folder.",
        json_schema_extra={"errorMessage": _SRC_MESSAGE},
    ),
]

MAX_SCENE_SECONDS = 3600.0
MAX_TRANSITION_SECONDS = 5.0


class _Model(BaseModel):
    # strict: "5" is not a number here, exactly as in the JSON Schema; forbid: a typo is an error.
    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re")


class _Timed(_Model):
    start: float = Field(
        0.0,
        ge=0,
        description="Seconds from the scene start; must be before the scene ends.",
        json_schema_extra={"unit": "s"},
    )
    duration: float | None = Field(
        None,
        gt=0,
        description="Seconds; null = until the scene ends (media without loop also ends with "
        "its source).",
        json_schema_extra={"unit": "s"},
    )


class _Visual(_Timed):
    position: Position = Field("center", description="Where the element's box is anchored.")
    x: float = Field(
        0.0, description="Offset to the right after anchoring.", json_schema_extra={"unit": "px"}
    )
    y: float = Field(
        0.0, description="Offset downwards after anchoring.", json_schema_extra={"unit": "px"}
    )
    opacity: float = Field(1.0, ge=0, le=1, description="0 = invisible, 1 = opaque.")
    animation: Animation = Field("none", description="How the element moves or fades.")
    animation_duration: float = Field(
        0.5,
        gt=0,
        description="Seconds, for fades and slides; zooms and pans span the whole element.",
        json_schema_extra={"unit": "s"},
    )


class TextElement(_Visual):
    """Text, wrapped at word boundaries to `max_width`, optionally on a box and outlined."""

    type: Literal["text"]
    text: str = Field(min_length=1, description="The text; \\n breaks lines.")
    font_size: float = Field(48.0, ge=1, le=1000, json_schema_extra={"unit": "px"})
    color: Color = "#FFFFFF"
    font_family: str | None = Field(
        None, description="A font family; null = the bundled sans font."
    )
    font_weight: Literal["normal", "bold"] = "normal"
    italic: bool = False
    align: Literal["left", "center", "right"] = Field(
        "center", description="Alignment of lines within the box."
    )
    line_height: float = Field(
        1.2, ge=0.5, le=3, description="Line spacing as a multiple of the font size."
    )
    max_width: float | None = Field(
        None,
        gt=0,
        description="Wrap width; null = 90 % of the canvas width.",
        json_schema_extra={"unit": "px"},
    )
    margin: float | None = Field(
        None,
        ge=0,
        description="Safe-area distance from the canvas edges for edge positions; "
        "null = 5 % of the shorter canvas side.",
        json_schema_extra={"unit": "px"},
    )
    background_color: Color | None = Field(None, description="Box behind the text; null = none.")
    padding: float | None = Field(
        None,
        ge=0,
        description="Space around the text inside its box; null = 0.3 × font_size when "
        "background_color is set, else 0.",
        json_schema_extra={"unit": "px"},
    )
    stroke_color: Color | None = Field(None, description="Outline colour; null = no outline.")
    stroke_width: float = Field(0.0, ge=0, json_schema_extra={"unit": "px"})


class _Picture(_Visual):
    src: Src
    width: float | None = Field(
        None, gt=0, description="Box width; null = canvas width.", json_schema_extra={"unit": "px"}
    )
    height: float | None = Field(
        None,
        gt=0,
        description="Box height; null = canvas height.",
        json_schema_extra={"unit": "px"},
    )
    fit: Fit = Field(
        "contain",
        description="contain = letterbox inside the box, cover = fill and crop, fill = stretch, "
        "none = natural size centred in the box.",
    )


class ImageElement(_Picture):
    """A still picture (PNG, JPEG, WebP, GIF's first frame)."""

    type: Literal["image"]


class VideoElement(_Picture):
    """A video clip; its sound is mixed into the movie unless muted."""

    type: Literal["video"]
    trim_start: float = Field(
        0.0, ge=0, description="Where in the source to begin.", json_schema_extra={"unit": "s"}
    )
    volume: float = Field(1.0, ge=0, le=1)
    muted: bool = False
    loop: bool = Field(
        False, description="Restart the source when it ends; else its last frame holds."
    )


class AudioElement(_Timed):
    """A sound source mixed into the movie's stereo 48 kHz track."""

    type: Literal["audio"]
    src: Src
    trim_start: float = Field(
        0.0, ge=0, description="Where in the source to begin.", json_schema_extra={"unit": "s"}
    )
    volume: float = Field(1.0, ge=0, le=1)
    loop: bool = False
    fade_in: float = Field(0.0, ge=0, json_schema_extra={"unit": "s"})
    fade_out: float = Field(0.0, ge=0, json_schema_extra={"unit": "s"})


Element = Annotated[
    TextElement | ImageElement | VideoElement | AudioElement, Field(discriminator="type")
]
VisualElement = TextElement | ImageElement | VideoElement
ELEMENT_TYPES: dict[str, type[_Model]] = {
    "text": TextElement,
    "image": ImageElement,
    "video": VideoElement,
    "audio": AudioElement,
}


class Transition(_Model):
    """How scene i blends in from scene i-1 over the first `duration` seconds of scene i."""

    type: TransitionType
    duration: float = Field(
        1.0,
        gt=0,
        le=MAX_TRANSITION_SECONDS,
        description="Seconds; at most 5 and at most the scene's duration.",
        json_schema_extra={"unit": "s"},
    )


class Scene(_Model):
    duration: float = Field(
        gt=0, le=MAX_SCENE_SECONDS, description="Seconds.", json_schema_extra={"unit": "s"}
    )
    background: Color = "#000000"
    elements: list[Element] = Field(default_factory=list, description="Later elements draw on top.")
    transition: Transition | None = Field(
        None, description="Blend in from the previous scene; not allowed on the first scene."
    )
    name: str | None = Field(None, description="A label for the studio; renderers ignore it.")


class Export(BaseModel):
    """A delivery target; only `type` is checked, other keys pass through unchanged."""

    model_config = ConfigDict(extra="allow", strict=True)
    type: ExportType


class Movie(_Model):
    """A whole movie: canvas, frame rate, quality and the scenes in play order."""

    width: int = Field(1920, ge=16, le=7680, multiple_of=2, json_schema_extra={"unit": "px"})
    height: int = Field(1080, ge=16, le=4320, multiple_of=2, json_schema_extra={"unit": "px"})
    fps: float = Field(30.0, gt=0, le=120, json_schema_extra={"unit": "fps"})
    quality: Quality = Field(
        "high", description="Encoder effort: low = fast and larger, high = slow and smaller."
    )
    scenes: list[Scene] = Field(min_length=1)
    webhook_uri: str | None = Field(
        None,
        pattern=URL_PATTERN,
        description="Called when a service render finishes.",
        json_schema_extra={
            "errorMessage": "Invalid URL. Expected an absolute http(s) URL, received {value}"
        },
    )
    exports: list[Export] | None = None

    @field_validator("width", "height", mode="before")
    @classmethod
    def _integral_float(cls, value: Any) -> Any:
        # JSON Schema's "integer" accepts 1920.0; so do we.
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        return value

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Movie:
        for i, scene in enumerate(self.scenes):
            if scene.transition is not None:
                if i == 0:
                    raise ValueError("scenes.0.transition: the first scene cannot have one")
                if scene.transition.duration > scene.duration:
                    raise ValueError(f"scenes.{i}.transition.duration exceeds the scene")
            for j, element in enumerate(scene.elements):
                if element.start >= scene.duration:
                    raise ValueError(f"scenes.{i}.elements.{j}.start is not inside the scene")
        return self

    @property
    def total_duration(self) -> float:
        """Seconds: the sum of scene durations (transitions do not shorten a movie)."""
        return math.fsum(scene.duration for scene in self.scenes)
