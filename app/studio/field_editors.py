"""Editor widgets for the inspector, built from the movie script's JSON Schema.

The schema is the data that drives the UI (as qutebrowser's `configdata.yml` drives its settings):
`field_specs` reads a property's types, enum, bounds, default, unit and description into a
`FieldSpec`, and `make_editor` picks the editor for it. Editors know nothing of the document:
they show a value (`show_value`, never emitting while they do) and emit `committed(subpath,
value)` when the user changes it (`subpath` is `()` for the field itself, `("duration",)` inside a
transition; `MISSING` means "remove the key"). A `FieldRow` adds the label, the default hint, the
reset button, the problem outline and message, and a raw-JSON fallback for values the typed editor
cannot show (a string where a number belongs), so bad data is shown as it is, never "fixed".
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import qtawesome
from PySide6.QtCore import QEvent, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFocusEvent,
    QFont,
    QFontDatabase,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.render.colors import parse_color
from app.render.fonts import DEFAULT_FAMILY, known_font
from app.script.jsonpath import Path
from app.script.model import COLOR_PATTERN, SRC_PATTERN
from app.script.problems import Problem
from app.studio.document import MISSING
from app.studio.tasks import TaskRunner

#: Pause in typing after which a text field commits (it also commits when it loses focus).
TEXT_COMMIT_MS = 700

_UNIT_SUFFIX = {"s": " s", "px": " px", "fps": " fps"}

#: What a nullable number shows when it is null (its description says what null means).
NULL_TEXT = {"duration": "to scene end", "width": "canvas", "height": "canvas"}

#: Labels that read better than the key (the key is in every tooltip).
LABELS = {
    "src": "Source",
    "fps": "Frame rate",
    "webhook_uri": "Webhook URL",
    "x": "X offset",
    "y": "Y offset",
    "font_family": "Font",
    "font_weight": "Weight",
    "background_color": "Box colour",
    "background": "Background",
    "color": "Colour",
    "stroke_color": "Outline colour",
    "stroke_width": "Outline width",
    "max_width": "Wrap width",
    "animation_duration": "Duration",
    "fit": "Fit",
}


# ------------------------------------------------------------------------------ schema → specs


@dataclass(frozen=True)
class FieldSpec:
    """One property of an object in the schema, in the terms an editor needs."""

    key: str
    types: tuple[str, ...] = ()
    nullable: bool = False
    enum: tuple[Any, ...] | None = None
    const: Any = MISSING
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    multiple_of: float | None = None
    default: Any = MISSING
    description: str = ""
    unit: str | None = None
    pattern: str | None = None
    required: bool = False
    #: properties of an object-valued field (a transition)
    children: tuple[FieldSpec, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return LABELS.get(self.key) or self.key.replace("_", " ").capitalize()

    @property
    def is_number(self) -> bool:
        return bool(self.types) and set(self.types) <= {"number", "integer"}

    @property
    def is_color(self) -> bool:
        return self.pattern == COLOR_PATTERN

    @property
    def is_src(self) -> bool:
        return self.pattern == SRC_PATTERN

    @property
    def is_percent(self) -> bool:
        """A unitless 0..1 fraction (opacity, volume), shown as a percentage."""
        return self.is_number and self.unit is None and self.minimum == 0 and self.maximum == 1

    @property
    def null_meaning(self) -> str:
        """What null means, from the description (`null = 90 % of the canvas width`)."""
        match = re.search(r"null = ([^;.]+(?:\.\d[^;.]*)?)", self.description)
        return match.group(1).strip() if match else ""

    def has_default(self) -> bool:
        return self.default is not MISSING or self.nullable

    @property
    def effective_default(self) -> Any:
        """The value an absent field has (null for nullable fields without a default)."""
        if self.default is not MISSING:
            return self.default
        return None if self.nullable else MISSING

    def describe_default(self) -> str:
        value = self.effective_default
        if value is MISSING:
            return "required" if self.required else "no default"
        if value is None:
            return self.null_meaning or "none"
        return format_value(value, self)

    def tooltip(self) -> str:
        lines = [f"<b>{self.key}</b>"]
        if self.description:
            lines.append(_html(self.description))
        facts = []
        if self.required:
            facts.append("required")
        elif self.has_default():
            facts.append(f"default: {_html(self.describe_default())}")
        bounds = self.bounds_text()
        if bounds:
            facts.append(bounds)
        if facts:
            lines.append("<i>" + " · ".join(facts) + "</i>")
        return "<br>".join(lines)

    def bounds_text(self) -> str:
        parts = []
        unit = f" {self.unit}" if self.unit else ""
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '≥'} {_num(self.minimum)}{unit}")
        if self.maximum is not None:
            parts.append(f"{'<' if self.exclusive_maximum else '≤'} {_num(self.maximum)}{unit}")
        return ", ".join(parts)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def format_value(value: Any, spec: FieldSpec | None = None) -> str:
    """A value as the inspector writes it in hints (`48 px`, `50 %`, `"center"` → center)."""
    if spec is not None and spec.is_percent and _is_number(value):
        return f"{_num(round(value * 100, 4))} %"
    if _is_number(value):
        unit = spec.unit if spec is not None and spec.unit else ""
        return f"{_num(value)}{' ' + unit if unit else ''}"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _resolve(schema: dict[str, Any], node: Any) -> dict[str, Any]:
    """Follow local `$ref`s (`#/$defs/Scene`), keeping the referring node's own keywords."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 16:
        ref = node["$ref"]
        target: Any = schema
        if ref.startswith("#/"):
            for part in ref[2:].split("/"):
                target = target.get(part) if isinstance(target, dict) else None
        else:
            target = None
        rest = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **rest} if isinstance(target, dict) else rest
        seen += 1
    return node if isinstance(node, dict) else {}


def _spec(schema: dict[str, Any], key: str, node: Any, required: bool) -> FieldSpec:
    node = _resolve(schema, node)
    kind = node.get("type")
    kinds = list(kind) if isinstance(kind, list) else ([kind] if isinstance(kind, str) else [])
    nullable = "null" in kinds
    kinds = [k for k in kinds if k != "null"]
    enum = node.get("enum")
    if enum is not None and None in enum:
        nullable = True
        enum = [v for v in enum if v is not None]
    minimum = node.get("minimum")
    exclusive_min = False
    if isinstance(node.get("exclusiveMinimum"), int | float):
        minimum, exclusive_min = node["exclusiveMinimum"], True
    maximum = node.get("maximum")
    exclusive_max = False
    if isinstance(node.get("exclusiveMaximum"), int | float):
        maximum, exclusive_max = node["exclusiveMaximum"], True
    children: tuple[FieldSpec, ...] = ()
    if "object" in kinds and isinstance(node.get("properties"), dict):
        children = _object_specs(schema, node)
    if not kinds and enum:
        kinds = sorted({"string" if isinstance(v, str) else "number" for v in enum})
    return FieldSpec(
        key=key,
        types=tuple(kinds),
        nullable=nullable,
        enum=tuple(enum) if isinstance(enum, list) else None,
        const=node.get("const", MISSING),
        minimum=minimum if _is_number(minimum) else None,
        maximum=maximum if _is_number(maximum) else None,
        exclusive_minimum=exclusive_min,
        exclusive_maximum=exclusive_max,
        multiple_of=node.get("multipleOf") if _is_number(node.get("multipleOf")) else None,
        default=node.get("default", MISSING),
        description=str(node.get("description") or ""),
        unit=node.get("unit") if isinstance(node.get("unit"), str) else None,
        pattern=node.get("pattern") if isinstance(node.get("pattern"), str) else None,
        required=required,
        children=children,
    )


def _object_specs(schema: dict[str, Any], node: dict[str, Any]) -> tuple[FieldSpec, ...]:
    props = node.get("properties")
    if not isinstance(props, dict):
        return ()
    required = set(node.get("required") or ())
    return tuple(_spec(schema, key, sub, key in required) for key, sub in props.items())


def field_specs(schema: dict[str, Any], kind: str, element_type: Any = None) -> list[FieldSpec]:
    """The fields of a `movie`, a `scene` or an `element` (of `element_type`) in `schema`.

    An element of an unknown type has only its `type` field (the one thing to fix first)."""
    root = _resolve(schema, schema)
    if kind == "movie":
        return list(_object_specs(schema, root))
    scenes = _resolve(schema, root.get("properties", {}).get("scenes", {}))
    scene = _resolve(schema, scenes.get("items", {}))
    if kind == "scene":
        return list(_object_specs(schema, scene))
    items = _resolve(schema, scene.get("properties", {}).get("elements", {}).get("items", {}))
    generic = list(_object_specs(schema, items))
    for branch in items.get("allOf") or ():
        cond = branch.get("if", {}) if isinstance(branch, dict) else {}
        const = cond.get("properties", {}).get("type", {}).get("const", MISSING)
        if const == element_type and isinstance(element_type, str):
            specific = list(_object_specs(schema, _resolve(schema, branch.get("then", {}))))
            type_spec = next((s for s in generic if s.key == "type"), None)
            # the generic `type` (an enum of every kind) replaces the branch's const
            return [
                type_spec if (s.key == "type" and type_spec is not None) else s for s in specific
            ]
    return generic


# ------------------------------------------------------------------------------ look


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def problem_color(severity: str, palette: QPalette) -> QColor:
    """Red for errors, amber for warnings, each readable on the palette's background."""
    dark = is_dark(palette)
    if severity == "error":
        return QColor("#ff7070" if dark else "#c62828")
    return QColor("#ffb74d" if dark else "#9a5b00")


def worst(problems: list[Problem]) -> str | None:
    if not problems:
        return None
    return "error" if any(p.is_error for p in problems) else "warning"


class Outline(QWidget):
    """Holds one editor and draws a rounded outline in the problem colour around it."""

    def __init__(self, child: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._severity: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(child)

    @property
    def severity(self) -> str | None:
        return self._severity

    def set_severity(self, severity: str | None) -> None:
        if severity != self._severity:
            self._severity = severity
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._severity is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(problem_color(self._severity, self.palette()), 1.6)
        painter.setPen(pen)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.8, 0.8, -0.8, -0.8), 4, 4)


def _set_default_look(widget: QWidget, is_default: bool, force: bool = False) -> None:
    """Greyed italic for a value that is the default (the key is absent)."""
    if widget.property("showsDefault") == is_default and not force:
        return
    widget.setProperty("showsDefault", is_default)
    font = widget.font()
    font.setItalic(is_default)
    widget.setFont(font)
    if is_default:
        palette = QPalette(widget.palette())
        grey = palette.color(QPalette.ColorRole.PlaceholderText)
        for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
            palette.setColor(role, grey)
        widget.setPalette(palette)
    else:
        widget.setPalette(QPalette())


# ------------------------------------------------------------------------------ editors


@dataclass
class EditorContext:
    """What some editors need beyond their value: where relative `src` paths start, a worker
    for probing, and a way to read sibling values (the scene's duration for a transition)."""

    tasks: TaskRunner | None = None
    base_dir: Callable[[], FilePath | None] = lambda: None
    sibling: Callable[[str], Any] = lambda key: MISSING
    #: what a null number works out to here (`max_width` → 90 % of this canvas), or None
    auto: Callable[[str], float | None] = lambda key: None


class FieldEditor(QWidget):
    """Shows one field's value; emits `committed(subpath, value)` on the user's changes."""

    committed = Signal(object, object)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self._updating = False
        self._value: Any = MISSING

    def accepts(self, value: Any) -> bool:
        """Whether this editor can show `value` truthfully (else the row shows raw JSON)."""
        return True

    def show_value(self, value: Any) -> None:
        """Show `value` (`MISSING`: the field is absent and its default is shown)."""
        self._value = value
        self._updating = True
        try:
            self._show(value)
        finally:
            self._updating = False

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def focus_input(self, subpath: Path = ()) -> QWidget:
        """Give keyboard focus to the input for `subpath`; return that widget."""
        target = self.focus_target(subpath)
        target.setFocus(Qt.FocusReason.OtherFocusReason)
        return target

    def focus_target(self, subpath: Path = ()) -> QWidget:
        return self

    def _emit(self, value: Any, subpath: Path = ()) -> None:
        if not self._updating:
            self.committed.emit(subpath, value)

    def flush(self) -> None:
        """Commit typing that is waiting for its pause (before the editor shows another
        object, so nothing typed is lost or written to the wrong place)."""
        for edit in self.findChildren(CommitLineEdit):
            edit.flush()
        for text in self.findChildren(CommitTextEdit):
            text.flush()

    def shown(self) -> Any:
        """The value shown (MISSING for an absent field)."""
        return self._value


class _SpinBox(QDoubleSpinBox):
    """A double spin box that writes `1.5 s`, not `1.500 s`, and ignores the wheel unless
    focused (scrolling the inspector must not change values)."""

    stepping = False

    def stepBy(self, steps: int) -> None:
        self.stepping = True
        try:
            super().stepBy(steps)
        finally:
            self.stepping = False

    def textFromValue(self, value: float) -> str:
        text = self.locale().toString(value, "f", self.decimals())
        point = self.locale().decimalPoint()
        if point in text:
            text = text.rstrip("0").rstrip(point)
        return text

    def wheelEvent(self, event: Any) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class _IntSpinBox(QSpinBox):
    def wheelEvent(self, event: Any) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class NumberEditor(FieldEditor):
    """A spin box with the schema's range, the unit as suffix, `%` for 0..1 fractions, and
    "auto" for a nullable number that is null. Stepping emits every step (the document merges
    them into one undo step); typing commits on Enter or focus-out (no keyboard tracking)."""

    def __init__(
        self,
        spec: FieldSpec,
        parent: QWidget | None = None,
        auto: Callable[[], float | None] | None = None,
    ) -> None:
        super().__init__(spec, parent)
        self._auto = auto
        self._integer = spec.types == ("integer",)
        self._scale = 100.0 if spec.is_percent else 1.0
        self._decimals = 0 if self._integer else (1 if spec.is_percent else self._base_decimals())
        self.spin: QDoubleSpinBox | QSpinBox = _IntSpinBox() if self._integer else _SpinBox()
        self.spin.setKeyboardTracking(False)
        self.spin.setAccelerated(True)
        self.spin.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
        self.spin.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.spin.setMinimumWidth(72)
        suffix = " %" if spec.is_percent else _UNIT_SUFFIX.get(spec.unit or "", "")
        if spec.key == "line_height":
            suffix = " ×"
        self.spin.setSuffix(suffix)
        if isinstance(self.spin, QDoubleSpinBox):
            self.spin.setDecimals(self._decimals)
        if isinstance(self.spin, QSpinBox):
            self.spin.setSingleStep(max(1, round(self._step())))
        else:
            self.spin.setSingleStep(self._step())
        if spec.nullable:
            self.spin.setSpecialValueText(self._null_text())
        self._null_floor = self._lowest_valid() - self._tick() if spec.nullable else None
        self._apply_range(None)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.spin)
        self.spin.valueChanged.connect(self._changed)
        self.setFocusProxy(self.spin)

    def _base_decimals(self) -> int:
        return 3 if self.spec.unit == "s" else 2

    def _tick(self) -> float:
        return 1.0 if self._integer else 10.0**-self._decimals

    def _step(self) -> float:
        spec = self.spec
        if spec.multiple_of:
            return float(spec.multiple_of)
        if spec.is_percent:
            return 5.0
        if spec.unit == "s":
            return 0.1
        if (
            spec.maximum is not None
            and spec.minimum is not None
            and spec.maximum - spec.minimum <= 10
        ):
            return 0.1
        return 1.0

    def _null_text(self) -> str:
        return NULL_TEXT.get(self.spec.key, "auto")

    def auto_value(self) -> float | None:
        """What null works out to for this element (None when unknown)."""
        value = self._auto() if self._auto is not None else None
        return value if _is_number(value) and value is not None and value > 0 else None

    def _null_label(self) -> str:
        value = self.auto_value()
        if value is None:
            return self._null_text()
        return f"{self._null_text()} ({format_value(round(value, 2), self.spec)})"

    def _lowest_valid(self) -> float:
        spec = self.spec
        if spec.minimum is None:
            return -1e9
        low = spec.minimum * self._scale
        return low + self._tick() if spec.exclusive_minimum else low

    def _highest_valid(self) -> float:
        spec = self.spec
        if spec.maximum is None:
            return 1e9 if not self._integer else 2_000_000_000
        high = spec.maximum * self._scale
        return high - self._tick() if spec.exclusive_maximum else high

    def _apply_range(self, value: float | None) -> None:
        """The schema's range, widened to show an out-of-range value as it is (with the problem
        outline) rather than clamping it."""
        low = self._null_floor if self._null_floor is not None else self._lowest_valid()
        high = self._highest_valid()
        if value is not None:
            low, high = min(low, value), max(high, value)
        if self._integer:
            low, high = max(low, -2_000_000_000), min(high, 2_000_000_000)
            self.spin.setRange(math.floor(low), math.ceil(high))
        else:
            assert isinstance(self.spin, QDoubleSpinBox)
            self.spin.setRange(low, high)

    def accepts(self, value: Any) -> bool:
        if value is MISSING or (value is None and self.spec.nullable):
            return True
        if not _is_number(value) or abs(value) > 1e12:
            return False
        if self._integer:
            return float(value).is_integer()
        return True

    def _show(self, value: Any) -> None:
        shown = self.spec.effective_default if value is MISSING else value
        _set_default_look(self.spin, value is MISSING)
        if shown is None or shown is MISSING:
            self._apply_range(None)
            if self._null_floor is not None:
                self.spin.setSpecialValueText(self._null_label())
                self._set_spin(self._null_floor)
            else:
                self.spin.clear()
            return
        scaled = shown * self._scale
        if isinstance(self.spin, QDoubleSpinBox):
            self.spin.setDecimals(max(self._decimals, _decimals_of(scaled)))
        self._apply_range(scaled)
        self._set_spin(scaled)

    def _set_spin(self, value: float) -> None:
        if isinstance(self.spin, QSpinBox):
            self.spin.setValue(round(value))
        else:
            self.spin.setValue(value)

    def _changed(self, number: float) -> None:
        if self._updating:
            return
        if self._null_floor is not None and number <= self._null_floor:
            if self._value is not MISSING and self._value is not None:
                self._emit(None)
            return
        was_null = self._value is None or (self._value is MISSING and self.spec.nullable)
        auto = self.auto_value() if was_null and getattr(self.spin, "stepping", False) else None
        if auto is not None and self._null_floor is not None:
            # stepping up from "auto" starts at what auto was, not at the smallest number
            number = round(auto * self._scale, self._decimals)
            self._updating = True
            try:
                self._apply_range(number)
                self._set_spin(number)
            finally:
                self._updating = False
        value: Any = number / self._scale
        if self._integer:
            value = round(value)
        else:
            value = round(value, 6)
            if float(value).is_integer():
                value = int(value)
        self._value = value
        self._emit(value)

    def focus_target(self, subpath: Path = ()) -> QWidget:
        return self.spin


def _decimals_of(value: float) -> int:
    text = f"{value:.6f}".rstrip("0")
    return min(6, len(text.split(".")[1])) if "." in text else 0


def _index_of(choices: list[Any], value: Any) -> int:
    """The index of `value` among `choices`, by value and JSON kind (`1` is not `true`)."""
    for i, choice in enumerate(choices):
        if choice == value and isinstance(choice, bool) == isinstance(value, bool):
            return i
    return -1


#: Keys a focused choice control uses itself, though the window binds them (Space plays,
#: Home/End seek): claimed through ShortcutOverride so the user's key reaches the control.
_OWN_KEYS = {Qt.Key.Key_Space, Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_Up, Qt.Key.Key_Down}


def _claims(event: QEvent) -> bool:
    if (
        event.type() == QEvent.Type.ShortcutOverride
        and isinstance(event, QKeyEvent)
        and event.modifiers() == Qt.KeyboardModifier.NoModifier
        and event.key() in _OWN_KEYS
    ):
        event.accept()
        return True
    return False


class _CheckBox(QCheckBox):
    def event(self, event: QEvent) -> bool:
        return True if _claims(event) else super().event(event)


class _ComboBox(QComboBox):
    def event(self, event: QEvent) -> bool:
        return True if _claims(event) else super().event(event)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(6)

    def wheelEvent(self, event: Any) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class EnumEditor(FieldEditor):
    """A combo of the schema's choices. A value outside them is shown as an extra, marked item
    (so the user sees what is there and picks a valid one)."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.combo = _ComboBox()
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._choices: list[Any] = list(spec.enum or ())
        if spec.nullable:
            self._choices.insert(0, None)
        for choice in self._choices:
            self.combo.addItem(self._text(choice), choice)
        self._extra = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        self.combo.activated.connect(self._activated)
        self.setFocusProxy(self.combo)

    def _text(self, choice: Any) -> str:
        if choice is None:
            return self.spec.null_meaning or "none"
        return str(choice)

    def _show(self, value: Any) -> None:
        shown = self.spec.effective_default if value is MISSING else value
        _set_default_look(self.combo, value is MISSING)
        if self._extra:
            self.combo.removeItem(0)
            self._extra = False
        index = _index_of(self._choices, shown)
        if index >= 0:
            self.combo.setCurrentIndex(index)
            return
        raw = "(not set)" if shown is MISSING else json.dumps(shown, ensure_ascii=False)
        self.combo.insertItem(0, qtawesome.icon("mdi6.alert-circle-outline"), f"{raw} — invalid")
        self.combo.setItemData(0, MISSING)
        self.combo.setItemData(0, f"{raw} is not one of the choices", Qt.ItemDataRole.ToolTipRole)
        self._extra = True
        self.combo.setCurrentIndex(0)

    def _activated(self, index: int) -> None:
        if self._extra and index == 0:
            return
        choice = self._choices[index - (1 if self._extra else 0)]
        self._emit(choice)

    def focus_target(self, subpath: Path = ()) -> QWidget:
        return self.combo


class BoolEditor(FieldEditor):
    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.check = _CheckBox()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.check)
        layout.addStretch(1)
        self.check.toggled.connect(lambda on: self._emit(bool(on)))
        self.setFocusProxy(self.check)

    def accepts(self, value: Any) -> bool:
        return value is MISSING or isinstance(value, bool)

    def _show(self, value: Any) -> None:
        shown = self.spec.effective_default if value is MISSING else value
        _set_default_look(self.check, value is MISSING)
        self.check.setChecked(bool(shown) if isinstance(shown, bool) else False)

    def focus_target(self, subpath: Path = ()) -> QWidget:
        return self.check


class CommitLineEdit(QLineEdit):
    """A line edit that commits after a pause in typing, on Enter and when it loses focus;
    Escape gives up the typing (`revert`)."""

    commit = Signal()
    revert = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(TEXT_COMMIT_MS)
        self._timer.timeout.connect(self.commit)
        self.textEdited.connect(lambda _t: self._timer.start())
        self.editingFinished.connect(self._finish)

    def _finish(self) -> None:
        self._timer.stop()
        self.commit.emit()

    def flush(self) -> None:
        if self._timer.isActive():
            self._finish()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self._timer.isActive():
            self._timer.stop()
            self.revert.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def set_text_quietly(self, text: str) -> None:
        self._timer.stop()
        if text != self.text():
            position = self.cursorPosition()
            self.setText(text)
            self.setCursorPosition(min(position, len(text)) if self.hasFocus() else 0)


class CommitTextEdit(QPlainTextEdit):
    """Multi-line text that commits after a pause in typing and when it loses focus; Escape
    gives up the typing (`revert`)."""

    commit = Signal()
    revert = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self._timer.isActive():
            self._timer.stop()
            self.revert.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTabChangesFocus(True)
        self._quiet = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(TEXT_COMMIT_MS)
        self._timer.timeout.connect(self.commit)
        self.textChanged.connect(self._typed)
        line = self.fontMetrics().lineSpacing()
        self.setFixedHeight(line * 3 + 14)

    def _typed(self) -> None:
        if not self._quiet:
            self._timer.start()

    def flush(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self.commit.emit()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        if self._timer.isActive():
            self._timer.stop()
            self.commit.emit()

    def set_text_quietly(self, text: str) -> None:
        self._timer.stop()
        if text == self.toPlainText():
            return
        self._quiet = True
        try:
            cursor = self.textCursor()
            position = cursor.position()
            self.setPlainText(text)
            if self.hasFocus():
                cursor = self.textCursor()
                cursor.setPosition(min(position, len(text)))
                self.setTextCursor(cursor)
        finally:
            self._quiet = False


class TextEditor(FieldEditor):
    """A string: one line, or several for the `text` field. An empty nullable string is null."""

    def __init__(self, spec: FieldSpec, multiline: bool = False, parent: QWidget | None = None):
        super().__init__(spec, parent)
        self.edit: CommitLineEdit | CommitTextEdit = (
            CommitTextEdit() if multiline else CommitLineEdit()
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        self.edit.commit.connect(self._commit)
        self.edit.revert.connect(lambda: self.show_value(self._value))
        self.setFocusProxy(self.edit)

    def accepts(self, value: Any) -> bool:
        return value is MISSING or isinstance(value, str) or (value is None and self.spec.nullable)

    def _current(self) -> str:
        edit = self.edit
        return edit.toPlainText() if isinstance(edit, QPlainTextEdit) else edit.text()

    def _show(self, value: Any) -> None:
        shown = "" if value is MISSING or value is None else str(value)
        self.edit.set_text_quietly(shown)
        default = self.spec.effective_default
        placeholder = ""
        if value is MISSING or value is None:
            if isinstance(default, str):
                placeholder = default
            elif self.spec.nullable:
                placeholder = self.spec.null_meaning or "not set"
        self.edit.setPlaceholderText(placeholder)

    def _commit(self) -> None:
        text = self._current()
        before = self._value
        if isinstance(before, str) and text == before:
            return
        if text == "" and not self.spec.required:
            # an optional text cleared: the key goes (back to its default)
            if before is not MISSING:
                self._value = MISSING
                self._emit(MISSING)
            return
        self._value = text
        self._emit(text)

    def focus_target(self, subpath: Path = ()) -> QWidget:
        return self.edit


_font_families: list[str] | None = None


def font_families() -> list[str]:
    """Installed families with the bundled one first (read once; QFontDatabase is slow)."""
    global _font_families
    if _font_families is None:
        families = sorted(set(QFontDatabase.families()) - {DEFAULT_FAMILY}, key=str.casefold)
        _font_families = [DEFAULT_FAMILY, *families]
    return _font_families


_font_model: QStandardItemModel | None = None


def font_model() -> QStandardItemModel:
    """One list of families shared by every font combo (a machine may have thousands, and a
    text element's inspector is built each time one is selected)."""
    global _font_model
    if _font_model is None:
        model = QStandardItemModel()
        first = QStandardItem(f"{DEFAULT_FAMILY} (bundled)")
        first.setData(None, Qt.ItemDataRole.UserRole)
        model.appendRow(first)
        for family in font_families()[1:]:
            item = QStandardItem(family)
            item.setData(family, Qt.ItemDataRole.UserRole)
            model.appendRow(item)
        _font_model = model
    return _font_model


class FontEditor(FieldEditor):
    """An editable family combo: the bundled family (null) and every installed family; a family
    that is not installed is kept as typed and flagged (it falls back to the bundled font)."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.combo = _ComboBox()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.combo.setMaxVisibleItems(20)
        self.combo.setModel(font_model())
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.combo)
        layout.addWidget(self.note)
        self.combo.activated.connect(self._activated)
        line = self.combo.lineEdit()
        assert line is not None
        line.editingFinished.connect(self._typed)
        self.setFocusProxy(self.combo)

    def accepts(self, value: Any) -> bool:
        return value is MISSING or value is None or isinstance(value, str)

    def _show(self, value: Any) -> None:
        _set_default_look(self.combo, value is MISSING)
        if value is MISSING or value is None:
            self.combo.setCurrentIndex(0)
        else:
            index = self.combo.findData(value)
            if index >= 0:
                self.combo.setCurrentIndex(index)
            else:
                self.combo.setEditText(str(value))
        self._update_note(value)

    def _update_note(self, value: Any) -> None:
        unknown = isinstance(value, str) and value.strip() != "" and not known_font(value)
        self.note.setVisible(unknown)
        if unknown:
            self.note.setText(f"Not installed here — text falls back to {DEFAULT_FAMILY}.")
            palette = QPalette(self.note.palette())
            palette.setColor(QPalette.ColorRole.WindowText, problem_color("warning", palette))
            self.note.setPalette(palette)

    def _activated(self, index: int) -> None:
        family = self.combo.itemData(index)
        self._commit_family(family)

    def _typed(self) -> None:
        text = self.combo.currentText().strip()
        family = None if text in ("", f"{DEFAULT_FAMILY} (bundled)") else text
        self._commit_family(family)

    def _commit_family(self, family: str | None) -> None:
        current = self._value if self._value is not MISSING else None
        if family == current:
            return
        # the bundled family is the default: choosing it removes the key
        value: Any = MISSING if family is None else family
        self._value = value
        self._update_note(value)
        self._emit(value)

    def focus_target(self, subpath: Path = ()) -> QWidget:
        return self.combo


def checkerboard(painter: QPainter, rect: QRectF, size: float = 5.0) -> None:
    painter.fillRect(rect, QColor("#ffffff"))
    dark = QColor("#c8c8c8")
    y = rect.top()
    row = 0
    while y < rect.bottom():
        x = rect.left() + (size if row % 2 else 0)
        while x < rect.right():
            painter.fillRect(QRectF(x, y, size, size).intersected(rect), dark)
            x += 2 * size
        y += size
        row += 1


class ColorSwatch(QToolButton):
    """A button painted with the colour over a checkerboard (so alpha shows); a diagonal line
    for "none" and a warning mark for text that is not a colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.color: QColor | None = None
        self.invalid = False
        self.setFixedSize(QSize(34, 24))
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_color(self, color: QColor | None, invalid: bool = False) -> None:
        self.color, self.invalid = color, invalid
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        outline = self.palette().color(QPalette.ColorRole.Mid)
        if self.color is not None:
            checkerboard(painter, rect)
            painter.fillRect(rect, QBrush(self.color))
        elif self.invalid:
            painter.setPen(QPen(problem_color("error", self.palette()), 2))
            painter.drawLine(rect.topLeft(), rect.bottomRight())
            painter.drawLine(rect.topRight(), rect.bottomLeft())
        else:
            painter.setPen(QPen(outline, 1.5))
            painter.drawLine(rect.bottomLeft(), rect.topRight())
        painter.setPen(QPen(outline, 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)


def color_text(color: QColor) -> str:
    """`#RRGGBB`, or `#RRGGBBAA` when not opaque (the script's CSS order, not Qt's #AARRGGBB)."""
    base = f"#{color.red():02X}{color.green():02X}{color.blue():02X}"
    return base if color.alpha() == 255 else f"{base}{color.alpha():02X}"


def script_qcolor(text: Any) -> QColor | None:
    if not isinstance(text, str):
        return None
    try:
        r, g, b, a = parse_color(text)
    except ValueError:
        return None
    return QColor(r, g, b, a)


class ColorEditor(FieldEditor):
    """A swatch (opens QColorDialog with alpha) and the hex text. Typed text that is not a
    colour is marked and not written; the document's own invalid text is shown as it is."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.swatch = ColorSwatch()
        self.swatch.setToolTip("Choose a colour (with transparency)")
        self.hex = CommitLineEdit()
        self.hex.setMaxLength(64)
        self.hex.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.hex.setPlaceholderText("#RRGGBBAA")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.swatch)
        layout.addWidget(self.hex)
        self.swatch.clicked.connect(self.choose)
        self.hex.commit.connect(self._typed)
        self.hex.revert.connect(lambda: self.show_value(self._value))
        self.hex.textEdited.connect(self._preview_typed)
        self.setFocusProxy(self.hex)

    def accepts(self, value: Any) -> bool:
        return value is MISSING or isinstance(value, str) or (value is None and self.spec.nullable)

    def _show(self, value: Any) -> None:
        shown = self.spec.effective_default if value is MISSING else value
        _set_default_look(self.hex, value is MISSING)
        text = shown if isinstance(shown, str) else ""
        self.hex.set_text_quietly(text)
        if shown is None:
            self.hex.setPlaceholderText(self.spec.null_meaning or "none")
        color = script_qcolor(shown)
        self.swatch.set_color(color, invalid=isinstance(shown, str) and color is None)
        self._mark_typed(True)

    def _mark_typed(self, ok: bool) -> None:
        self.hex.setProperty("invalidInput", not ok)
        palette = QPalette(self.hex.palette())
        if ok:
            _set_default_look(self.hex, self._value is MISSING, force=True)
            return
        palette.setColor(QPalette.ColorRole.Text, problem_color("error", palette))
        self.hex.setPalette(palette)

    def _preview_typed(self, text: str) -> None:
        color = script_qcolor(text.strip())
        if color is not None:
            self.swatch.set_color(color)
        self._mark_typed(color is not None or text.strip() == "")

    def _typed(self) -> None:
        text = self.hex.text().strip()
        if text == "":
            if self.spec.nullable and self._value is not MISSING and self._value is not None:
                self._value = None
                self._emit(None)
            elif self._value is not MISSING:
                self._show(self._value)
            return
        if script_qcolor(text) is None:
            if text == self._value:
                return  # the document's own invalid value, untouched
            self._mark_typed(False)
            self.hex.setToolTip("Not a colour: use #RGB, #RRGGBB or #RRGGBBAA")
            return
        self.hex.setToolTip("")
        if text == self._value:
            return
        self._value = text
        self._mark_typed(True)
        self._emit(text)

    def choose(self) -> None:
        start = script_qcolor(self._value if self._value is not MISSING else None)
        if start is None:
            start = script_qcolor(self.spec.effective_default) or QColor("#ffffff")
        chosen = _pick_color(start, self, f"Choose {self.spec.label.lower()}")
        if chosen.isValid():
            self.set_color(chosen)

    def set_color(self, color: QColor) -> None:
        """Pick `color` as if chosen in the dialog (alpha kept)."""
        text = color_text(color)
        self.swatch.set_color(color)
        self.hex.set_text_quietly(text)
        if text != self._value:
            self._value = text
            self._mark_typed(True)
            self._emit(text)

    def focus_target(self, subpath: Path = ()) -> QWidget:
        return self.hex


def _pick_color(start: QColor, parent: QWidget, title: str) -> QColor:
    return QColorDialog.getColor(
        start, parent, title, QColorDialog.ColorDialogOption.ShowAlphaChannel
    )


class RawEditor(FieldEditor):
    """The value as JSON text: for values no typed editor can show and for fields the schema does
    not know. What the user types is parsed as JSON when it is JSON, else kept as a string."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.edit = CommitLineEdit()
        self.edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        self.edit.commit.connect(self._commit)
        self.edit.revert.connect(lambda: self.show_value(self._value))
        self.setFocusProxy(self.edit)
        self.mark = self.edit.addAction(
            qtawesome.icon("mdi6.code-json"), QLineEdit.ActionPosition.LeadingPosition
        )
        self.mark.setToolTip("Shown as JSON: this value is not what the field takes")

    def _show(self, value: Any) -> None:
        text = "" if value is MISSING else json.dumps(value, ensure_ascii=False)
        self.edit.set_text_quietly(text)
        self.edit.setPlaceholderText(self.spec.describe_default() if value is MISSING else "")

    def _commit(self) -> None:
        text = self.edit.text()
        current = "" if self._value is MISSING else json.dumps(self._value, ensure_ascii=False)
        if text == current:
            return
        if text.strip() == "" and self._value is MISSING:
            return
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        self._value = value
        self._emit(value)

    def focus_target(self, subpath: Path = ()) -> QWidget:
        return self.edit


# ------------------------------------------------------------------------------ transition


class TransitionEditor(FieldEditor):
    """None, or a type and a duration: choosing a type on a scene without a transition writes the
    whole object; "None" removes it; type and duration edit their own keys."""

    def __init__(
        self, spec: FieldSpec, context: EditorContext, parent: QWidget | None = None
    ) -> None:
        super().__init__(spec, parent)
        self.context = context
        children = {child.key: child for child in spec.children}
        type_spec = children.get("type", FieldSpec("type", ("string",), enum=()))
        self._types: list[Any] = list(type_spec.enum or ())
        self.duration_spec = children.get(
            "duration", FieldSpec("duration", ("number",), minimum=0, unit="s", default=1.0)
        )
        self.combo = _ComboBox()
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.combo.addItem(qtawesome.icon("mdi6.minus-circle-outline"), "None", None)
        for kind in self._types:
            self.combo.addItem(str(kind), kind)
        self._extra = False
        self.duration = NumberEditor(self.duration_spec)
        self.duration.spin.setToolTip(self.duration_spec.tooltip())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.combo, 3)
        layout.addWidget(self.duration, 2)
        self.combo.activated.connect(self._activated)
        self.duration.committed.connect(self._duration)
        self.setFocusProxy(self.combo)

    def accepts(self, value: Any) -> bool:
        if value is MISSING:
            return True
        if not isinstance(value, dict) or not set(value) <= {"type", "duration"}:
            return False  # odd keys or shapes: shown as raw JSON, not half-shown
        return "duration" not in value or self.duration.accepts(value["duration"])

    def _show(self, value: Any) -> None:
        if self._extra:
            self.combo.removeItem(1)
            self._extra = False
        if value is MISSING or not isinstance(value, dict):
            self.combo.setCurrentIndex(0)
            self.duration.setEnabled(False)
            self.duration.show_value(MISSING)
            return
        kind = value.get("type", MISSING)
        if kind in self._types:
            self.combo.setCurrentIndex(self._types.index(kind) + 1)
        else:
            raw = "(no type)" if kind is MISSING else json.dumps(kind, ensure_ascii=False)
            self.combo.insertItem(
                1, qtawesome.icon("mdi6.alert-circle-outline"), f"{raw} — invalid", MISSING
            )
            self._extra = True
            self.combo.setCurrentIndex(1)
        self.duration.setEnabled(True)
        duration = value.get("duration", MISSING)
        self.duration.show_value(duration if self.duration.accepts(duration) else MISSING)

    def _activated(self, index: int) -> None:
        kind = self.combo.itemData(index)
        if kind is MISSING:
            return
        current = self._value
        if kind is None:
            if current is not MISSING:
                self._emit(MISSING)
            return
        if isinstance(current, dict):
            if current.get("type") != kind:
                self._emit(kind, ("type",))
            return
        duration = 1.0
        scene = self.context.sibling("duration")
        if _is_number(scene) and scene > 0:
            duration = min(duration, float(scene))
        self._emit({"type": kind, "duration": duration})

    def _duration(self, _subpath: Path, value: Any) -> None:
        if isinstance(self._value, dict):
            self._emit(value, ("duration",))

    def focus_target(self, subpath: Path = ()) -> QWidget:
        if subpath[:1] == ("duration",) and self.duration.isEnabled():
            return self.duration.spin
        return self.combo


# ------------------------------------------------------------------------------ media source


@dataclass(frozen=True)
class ProbeOutcome:
    """What the probe found for one `src` (info), or why it could not (error), or neither
    (a remote file not downloaded yet)."""

    src: str
    text: str
    ok: bool
    pending: bool = False


def _probe_src(src: str, base_dir: FilePath | None, fetch: bool) -> ProbeOutcome:
    """Runs on a worker: resolve `src`, fetch it if asked (URL), probe it, say what was found."""
    from app.media.errors import MediaError
    from app.media.probe import probe
    from app.script.sources import resolve_src

    try:
        source = resolve_src(src, base_dir)
        path: FilePath | None = source.path
        if source.kind == "url":
            from app.render.engine import default_media_cache

            cache = default_media_cache()
            cached = cache.path_for(src)
            if cached.exists():
                path = cached
            elif fetch:
                path = cache.fetch(src)
            else:
                return ProbeOutcome(src, "Remote file — not downloaded yet.", ok=True, pending=True)
        assert path is not None
        info = probe(path)
    except MediaError as exc:
        return ProbeOutcome(src, exc.detail, ok=False)
    except (OSError, ValueError) as exc:
        return ProbeOutcome(src, f"Cannot read this source: {exc}", ok=False)
    return ProbeOutcome(src, describe_media(info), ok=True)


def describe_media(info: Any) -> str:
    """`1920×1080 · 12.5 s · 30 fps · audio` — what a creator wants to know about a clip."""
    parts: list[str] = []
    if info.width and info.height:
        parts.append(f"{info.width}×{info.height}")
    if info.is_still_image:
        parts.append(f"still image ({info.video_codec})" if info.video_codec else "still image")
        return " · ".join(parts)
    if info.duration is not None:
        parts.append(_duration_text(info.duration))
    if info.fps:
        fps = f"{info.fps:.3f}".rstrip("0").rstrip(".")
        parts.append(f"{fps} fps" + (" (variable)" if info.variable_frame_rate else ""))
    if info.has_video and info.video_codec:
        parts.append(info.video_codec)
    if info.has_audio:
        parts.append(f"audio ({info.audio_codec})" if info.audio_codec else "audio")
    elif info.has_video:
        parts.append("no audio")
    return " · ".join(parts)


def _duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2f} s".replace(".00 s", " s")
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:05.2f}"


class SourceEditor(FieldEditor):
    """The `src` path or URL, a Browse… button, and what the probe found (size, duration, fps,
    audio) or the probe's error. Probing runs on the context's worker; a result for a `src` that
    is no longer shown is dropped."""

    probed = Signal(object)

    _cache: dict[tuple[str, str, int, int], ProbeOutcome] = {}  # noqa: RUF012

    def __init__(
        self, spec: FieldSpec, context: EditorContext, parent: QWidget | None = None
    ) -> None:
        super().__init__(spec, parent)
        self.context = context
        self.edit = CommitLineEdit()
        self.edit.setPlaceholderText("media/clip.mp4 or https://…")
        self.edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.browse = QToolButton()
        self.browse.setIcon(qtawesome.icon("mdi6.folder-open-outline"))
        self.browse.setToolTip("Choose a media file…")
        self.fetch = QToolButton()
        self.fetch.setIcon(qtawesome.icon("mdi6.download-outline"))
        self.fetch.setToolTip("Download and probe this remote file")
        self.fetch.setVisible(False)
        self.icon = QLabel()
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        small = QFont(self.info.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.9))
        self.info.setFont(small)
        top = QHBoxLayout()
        top.setSpacing(4)
        top.addWidget(self.edit)
        top.addWidget(self.browse)
        top.addWidget(self.fetch)
        bottom = QHBoxLayout()
        bottom.setSpacing(4)
        bottom.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        bottom.addWidget(self.info, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(bottom)
        self.edit.commit.connect(self._typed)
        self.edit.revert.connect(lambda: self.show_value(self._value))
        self.browse.clicked.connect(self.choose_file)
        self.fetch.clicked.connect(lambda: self._probe(fetch=True))
        self.setFocusProxy(self.edit)
        self._probing: str | None = None
        self.outcome: ProbeOutcome | None = None
        self._set_info(None)

    def accepts(self, value: Any) -> bool:
        return value is MISSING or isinstance(value, str)

    def _show(self, value: Any) -> None:
        text = value if isinstance(value, str) else ""
        self.edit.set_text_quietly(text)
        if text.strip():
            if self._probing != text:  # a new source (a probe of this one runs or ran)
                self._probe()
        else:
            self._probing = None
            self.outcome = None
            self._set_info(None)

    def refresh(self) -> None:
        """Probe again (the file may have changed; the base folder may have moved)."""
        self._probe()

    def _key(self, src: str) -> tuple[str, str, int, int] | None:
        from app.script.sources import resolve_src

        try:
            source = resolve_src(src, self.context.base_dir())
            if source.path is None:
                return None
            st = os.stat(source.path)
            return (src, str(source.path), st.st_mtime_ns, st.st_size)
        except (OSError, ValueError):
            return None

    def _probe(self, fetch: bool = False) -> None:
        src = self._value if isinstance(self._value, str) else ""
        if not src.strip():
            return
        self._probing = src
        key = self._key(src)
        cached = self._cache.get(key) if key is not None else None
        if cached is not None:
            self._landed(cached, None, src, key)
            return
        tasks = self.context.tasks
        if tasks is None:
            self._landed(_probe_src(src, self.context.base_dir(), fetch), None, src, key)
            return
        self.outcome = None
        self._set_info(ProbeOutcome(src, "Reading the file…", ok=True, pending=True))
        tasks.run(
            _probe_src,
            src,
            self.context.base_dir(),
            fetch,
            done=lambda result, error: self._landed(result, error, src, key),
        )

    def _landed(
        self,
        result: ProbeOutcome | None,
        error: BaseException | None,
        src: str,
        key: tuple[str, str, int, int] | None,
    ) -> None:
        try:
            alive = self.isVisible() or not self.isHidden()
        except RuntimeError:  # deleted while probing
            return
        if not alive or src != self._probing:
            return
        if error is not None or result is None:
            result = ProbeOutcome(src, f"Probe failed: {error}", ok=False)
        if key is not None and not result.pending:
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[key] = result
        self.outcome = result
        self._set_info(result)
        self.probed.emit(result)

    def _set_info(self, outcome: ProbeOutcome | None) -> None:
        if outcome is None:
            self.info.setText("No media chosen.")
            self.icon.setPixmap(qtawesome.icon("mdi6.file-question-outline").pixmap(14, 14))
            self.fetch.setVisible(False)
            return
        palette = self.palette()
        if outcome.ok:
            name = "mdi6.progress-clock" if outcome.pending else "mdi6.check-circle-outline"
            color = palette.color(QPalette.ColorRole.Text)
        else:
            name = "mdi6.alert-circle-outline"
            color = problem_color("error", palette)
        self.icon.setPixmap(qtawesome.icon(name, color=color).pixmap(14, 14))
        self.info.setText(outcome.text)
        self.info.setToolTip(outcome.text)
        info_palette = QPalette(self.info.palette())
        info_palette.setColor(QPalette.ColorRole.WindowText, color)
        self.info.setPalette(info_palette)
        self.fetch.setVisible(outcome.pending and outcome.text.startswith("Remote"))

    def _typed(self) -> None:
        text = self.edit.text().strip()
        if text == (self._value if isinstance(self._value, str) else ""):
            return
        if text == "" and self._value is MISSING:
            return
        self._value = text
        self._emit(text)
        self._probe()

    def choose_file(self) -> None:
        base = self.context.base_dir()
        start = str(base) if base else ""
        path, _filter = QFileDialog.getOpenFileName(
            self,
            "Choose media",
            start,
            "Media (*.mp4 *.mov *.mkv *.webm *.avi *.m4v *.png *.jpg *.jpeg *.webp *.gif "
            "*.bmp *.wav *.mp3 *.ogg *.flac *.m4a *.aac *.opus);;All files (*)",
        )
        if path:
            self.set_path(FilePath(path))

    def set_path(self, path: FilePath) -> None:
        """Use a chosen file: written relative to the script's folder when it is inside it."""
        base = self.context.base_dir()
        text = str(path)
        if base is not None:
            try:
                text = path.resolve().relative_to(base.resolve()).as_posix()
            except ValueError:
                text = str(path)
        self.edit.set_text_quietly(text)
        self._typed()

    def focus_target(self, subpath: Path = ()) -> QWidget:
        return self.edit


# ------------------------------------------------------------------------------ rows


def make_editor(
    spec: FieldSpec, context: EditorContext, parent: QWidget | None = None
) -> FieldEditor:
    """The editor the schema asks for."""
    if spec.children and "object" in spec.types:
        return TransitionEditor(spec, context, parent)
    if spec.is_src:
        return SourceEditor(spec, context, parent)
    if spec.is_color:
        return ColorEditor(spec, parent)
    if spec.enum:
        return EnumEditor(spec, parent)
    if spec.is_number:
        return NumberEditor(spec, parent, auto=lambda: context.auto(spec.key))
    if spec.types == ("boolean",):
        return BoolEditor(spec, parent)
    if spec.key == "font_family" and spec.types == ("string",):
        return FontEditor(spec, parent)
    if spec.types == ("string",):
        return TextEditor(spec, multiline=spec.key == "text", parent=parent)
    return RawEditor(spec, parent)


class ScrubLabel(QLabel):
    """A field label; over a number field, dragging it sideways steps the value (one step per
    4 px, ten with Shift). The steps of one drag merge into one undo step in the document."""

    PIXELS_PER_STEP = 4

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.spin: QAbstractSpinBox | None = None
        self._last_x: float | None = None
        self._carry = 0.0

    def _active(self) -> bool:
        spin = self.spin
        return spin is not None and spin.isVisible() and spin.isEnabled()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._active() and event.button() == Qt.MouseButton.LeftButton:
            self._last_x = event.position().x()
            self._carry = 0.0
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._last_x is None or self.spin is None:
            super().mouseMoveEvent(event)
            return
        x = event.position().x()
        self._carry += (x - self._last_x) / self.PIXELS_PER_STEP
        self._last_x = x
        steps = int(self._carry)
        if steps:
            self._carry -= steps
            factor = 10 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1
            self.spin.stepBy(steps * factor)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._last_x is not None:
            self._last_x = None
            event.accept()
            return
        super().mouseReleaseEvent(event)


class FieldRow(QWidget):
    """Label · editor (or raw JSON when the editor cannot show the value) · reset; below it the
    field's problems. Emits `committed(subpath, value)`; `MISSING` resets the field."""

    committed = Signal(object, object)

    def __init__(
        self,
        spec: FieldSpec,
        context: EditorContext,
        parent: QWidget | None = None,
        unknown: bool = False,
    ) -> None:
        super().__init__(parent)
        self.spec = spec
        self.unknown = unknown
        self.value: Any = MISSING
        self.problems: list[Problem] = []
        self.label = ScrubLabel(spec.key if unknown else spec.label)
        self.label.setToolTip(
            f"<b>{_html(spec.key)}</b><br>Not a field of this object."
            if unknown
            else spec.tooltip()
        )
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.editor = RawEditor(spec) if unknown else make_editor(spec, context)
        self.raw = RawEditor(spec)
        if isinstance(self.editor, NumberEditor):
            # drag on the label to scrub the value, as in Blender or Figma
            self.label.spin = self.editor.spin
            self.label.setCursor(Qt.CursorShape.SizeHorCursor)
        self.label.setBuddy(self.editor.focus_target())
        self.stack = QStackedWidget()
        self.stack.addWidget(self.editor)
        self.stack.addWidget(self.raw)
        self.raw.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.editor.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.stack.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.outline = Outline(self.stack)
        self.reset = QToolButton()
        self.reset.setAutoRaise(True)
        self.reset.setIcon(qtawesome.icon("mdi6.delete-outline" if unknown else "mdi6.restore"))
        self.reset.setToolTip(
            f"Remove {spec.key}"
            if unknown
            else f"Reset to the default ({spec.describe_default()})"
            if spec.has_default()
            else f"Remove {spec.key}"
        )
        self.reset.setIconSize(QSize(16, 16))
        self.reset.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes field to field
        self.reset.clicked.connect(lambda: self.committed.emit((), MISSING))
        self.hint = QLabel("default")
        self.hint.setEnabled(False)
        hint_font = QFont(self.hint.font())
        hint_font.setItalic(True)
        hint_font.setPointSizeF(max(7.0, hint_font.pointSizeF() * 0.85))
        self.hint.setFont(hint_font)
        self.hint.setToolTip(f"Not set: the default applies ({spec.describe_default()})")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setFont(hint_font)
        self.message.setVisible(False)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for source in (self.editor, self.raw):
            source.committed.connect(self.committed)
        self.side = QStackedWidget()
        self.side.addWidget(self.reset)
        self.side.addWidget(self.hint)
        self.side.addWidget(QWidget())
        self.side.setFixedWidth(max(self.hint.sizeHint().width(), 26) + 2)
        self.side.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.side.setFixedHeight(26)

    @property
    def wide(self) -> bool:
        """Editors that need the whole width (a path with its probe, several lines of text, a
        transition's type and duration) get their label on a line of its own."""
        editor = self.editor
        if isinstance(editor, SourceEditor | TransitionEditor):
            return True
        return isinstance(editor, TextEditor) and isinstance(editor.edit, QPlainTextEdit)

    def attach(self, grid: Any, row: int) -> int:
        """Place the row's parts in a grid (label, editor, reset; message below); returns the
        next free grid row. The row itself (no pixels of its own) lives and dies with the grid."""
        owner = grid.parentWidget()
        if owner is not None:
            self.setParent(owner)
            self.hide()
        if self.wide:
            self.label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)
            grid.addWidget(self.label, row, 0, 1, 3)
            row += 1
            grid.addWidget(self.outline, row, 0, 1, 2)
            grid.addWidget(self.side, row, 2, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(self.message, row + 1, 0, 1, 3)
            self.label.setMinimumHeight(22)
            return row + 2
        grid.addWidget(self.label, row, 0, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.outline, row, 1)
        grid.addWidget(self.side, row, 2, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.message, row + 1, 1, 1, 2)
        self.label.setMinimumHeight(28)
        return row + 2

    def show_value(self, value: Any) -> None:
        """Show the document's value (MISSING: absent); never emits."""
        self.value = value
        typed = not self.unknown and self.editor.accepts(value)
        shown, hidden = (self.editor, self.raw) if typed else (self.raw, self.editor)
        shown.show_value(value)
        if self.stack.currentWidget() is not shown:
            # only the page shown takes space (a 3-line text box must not make raw JSON tall)
            hidden.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
            shown.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
            self.stack.setCurrentWidget(shown)
            self.stack.updateGeometry()
        present = value is not MISSING
        if present and (self.unknown or not self.spec.required):
            self.side.setCurrentIndex(0)
        elif self.spec.has_default():
            self.side.setCurrentIndex(1)
        else:
            self.side.setCurrentIndex(2)
        font = self.label.font()
        font.setItalic(not present and self.spec.has_default())
        self.label.setFont(font)

    @property
    def shows_raw(self) -> bool:
        return self.stack.currentWidget() is self.raw

    @property
    def shows_default(self) -> bool:
        return self.value is MISSING and self.side.currentIndex() == 1

    def set_problems(self, problems: list[Problem]) -> None:
        if problems == self.problems:
            return
        self.problems = problems
        severity = worst(problems)
        self.outline.set_severity(severity)
        if severity is None:
            self.message.setVisible(False)
            self.message.clear()
            self.outline.setToolTip("")
            return
        text = "\n".join(_problem_line(self.spec.key, p) for p in problems)
        self.message.setText(text)
        self.outline.setToolTip(text)
        palette = QPalette(self.message.palette())
        palette.setColor(QPalette.ColorRole.WindowText, problem_color(severity, palette))
        self.message.setPalette(palette)
        self.message.setVisible(True)

    def flush(self) -> None:
        """Commit typing that waits for its pause."""
        self.editor.flush()
        self.raw.flush()

    def focus(self, subpath: Path = ()) -> QWidget:
        current = self.stack.currentWidget()
        assert isinstance(current, FieldEditor)
        return current.focus_input(subpath)

    def focus_target(self, subpath: Path = ()) -> QWidget:
        current = self.stack.currentWidget()
        assert isinstance(current, FieldEditor)
        return current.focus_target(subpath)


def _problem_line(key: str, problem: Problem) -> str:
    inner: list[str] = []
    if key in problem.path:
        inner = [str(p) for p in problem.path[problem.path.index(key) + 1 :]]
    where = f"{'.'.join(inner)}: " if inner else ""
    return f"{where}{problem.message}"
