"""The Inspector dock: every field of the selected movie, scene or element, with its editor.

It follows the document (`selection_changed`, `data_changed`, `validated`) and edits only
through it, one undoable step per change with a readable name ("Change scene 2 › element 1 ›
font_size"). Fields come from the active schema (`field_editors.field_specs`), grouped for
people (Timing, Layout, Text, Appearance…); a field the schema does not know is shown as raw
JSON with its problem. The editors are built once per object *structure* (which object, its
element type, its unknown keys); every other change — typing elsewhere, undo, a timeline drag —
updates the values in place, so a 1,000-scene document stays fast and an editor being used is
not torn down under the cursor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import qtawesome
from PySide6.QtCore import QEvent, QSize, Qt, QTimer
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.script.jsonpath import Path
from app.script.problems import Problem
from app.script.schema import Schema, active_schema, bundled_schema
from app.studio.document import MISSING, Change, ScriptDocument, Validation, describe
from app.studio.field_editors import (
    EditorContext,
    FieldRow,
    FieldSpec,
    NumberEditor,
    RawEditor,
    SourceEditor,
    TextEditor,
    field_specs,
    problem_color,
    worst,
)
from app.studio.tasks import TaskRunner

#: Sections of each kind of object: (title, icon, field keys in display order). Fields the
#: schema has that no section names go to "More"; keys the schema does not know to "Unknown".
SECTIONS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "movie": [
        ("Canvas", "mdi6.aspect-ratio", ("width", "height", "fps")),
        ("Output", "mdi6.export", ("quality",)),
        ("Delivery", "mdi6.webhook", ("webhook_uri", "exports")),
    ],
    "scene": [
        ("Scene", "mdi6.filmstrip-box", ("name",)),
        ("Timing", "mdi6.timer-outline", ("duration",)),
        ("Appearance", "mdi6.palette-outline", ("background",)),
        ("Transition", "mdi6.transition", ("transition",)),
    ],
    "element": [
        ("Element", "mdi6.shape-outline", ("type",)),
        ("Source", "mdi6.file-video-outline", ("src",)),
        ("Content", "mdi6.text-box-outline", ("text",)),
        ("Timing", "mdi6.timer-outline", ("start", "duration", "trim_start", "loop")),
        (
            "Layout",
            "mdi6.arrange-bring-forward",
            ("position", "x", "y", "width", "height", "fit", "max_width", "margin"),
        ),
        (
            "Text",
            "mdi6.format-font",
            ("font_family", "font_size", "font_weight", "italic", "align", "line_height"),
        ),
        (
            "Appearance",
            "mdi6.palette-outline",
            (
                "color",
                "background_color",
                "padding",
                "stroke_color",
                "stroke_width",
                "opacity",
            ),
        ),
        ("Animation", "mdi6.animation-play-outline", ("animation", "animation_duration")),
        ("Audio", "mdi6.volume-high", ("volume", "muted", "fade_in", "fade_out")),
    ],
}

ELEMENT_ICONS = {
    "text": "mdi6.format-text",
    "image": "mdi6.image-outline",
    "video": "mdi6.video-outline",
    "audio": "mdi6.music-note-outline",
}


def themed_icon(name: str, widget: QWidget) -> Any:
    """A qtawesome icon drawn in the widget's text colour (readable in light and dark)."""
    color = widget.palette().color(QPalette.ColorRole.WindowText)
    return qtawesome.icon(name, color=color)


def object_path(path: Path | None) -> tuple[Path, Path]:
    """Split a selection into the object it names (movie `()`, scene, element) and the rest
    (a field inside it): `("scenes", 1, "transition", "type")` → scene 2 and the field."""
    if not path:
        return (), ()
    parts = tuple(path)
    if (
        len(parts) >= 4
        and parts[0] == "scenes"
        and parts[2] == "elements"
        and isinstance(parts[1], int)
        and isinstance(parts[3], int)
    ):
        return parts[:4], parts[4:]
    if len(parts) >= 2 and parts[0] == "scenes" and isinstance(parts[1], int):
        return parts[:2], parts[2:]
    return (), parts


def kind_of(path: Path) -> str:
    return {0: "movie", 2: "scene", 4: "element"}.get(len(path), "movie")


class Section(QWidget):
    """A titled, collapsible group of field rows."""

    def __init__(self, title: str, icon: str, expanded: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.header = QToolButton()
        self.header.setText(title)
        self.header.setCheckable(True)
        self.header.setChecked(expanded)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setAutoRaise(True)
        self.header.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        bold = QFont(self.header.font())
        bold.setBold(True)
        self.header.setFont(bold)
        self._icon = icon
        self.body = QWidget()
        self.grid = QGridLayout(self.body)
        self.grid.setContentsMargins(6, 0, 2, 6)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(1)
        self.grid.setColumnStretch(1, 1)
        self.next_row = 0
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.badge = QLabel()
        self.badge.setVisible(False)
        self.rows: list[FieldRow] = []
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 6, 0)
        top.addWidget(self.header, 1)
        top.addWidget(self.badge)
        layout.addWidget(line)
        layout.addLayout(top)
        layout.addWidget(self.body)
        self.header.toggled.connect(self._toggled)
        self._toggled(expanded)

    def _toggled(self, expanded: bool) -> None:
        self.body.setVisible(expanded)
        arrow = "mdi6.chevron-down" if expanded else "mdi6.chevron-right"
        self.header.setIcon(themed_icon(arrow, self))

    def add_row(self, row: FieldRow) -> None:
        self.next_row = row.attach(self.grid, self.next_row)
        self.rows.append(row)

    def show_problem_count(self) -> None:
        """A coloured count beside the title, so a collapsed section still says it has
        problems."""
        problems = [p for row in self.rows for p in row.problems]
        severity = worst(problems)
        self.badge.setVisible(severity is not None)
        if severity is None:
            return
        color = problem_color(severity, self.palette())
        self.badge.setText(f'<span style="color:{color.name()}">● {len(problems)}</span>')
        self.badge.setToolTip(
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {self.title}"
        )

    def add_widget(self, widget: QWidget) -> None:
        self.grid.addWidget(widget, self.next_row, 0, 1, 3)
        self.next_row += 1

    def expand(self) -> None:
        self.header.setChecked(True)


class InspectorPanel(QWidget):
    """Shows and edits the selected object. See the module docstring."""

    def __init__(self, document: ScriptDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("InspectorPanel")
        self.document = document
        self.tasks = TaskRunner(max_workers=2, name="reelsmith-probe", parent=self)
        self.context = EditorContext(
            tasks=self.tasks,
            base_dir=lambda: self.document.base_dir,
            sibling=self._sibling,
            auto=self._auto_value,
        )
        self.path: Path | None = None
        self.kind = "movie"
        self.rows: dict[str, FieldRow] = {}
        self.sections: dict[str, Section] = {}
        self._signature: Any = None
        self._collapsed: set[tuple[str, str]] = set()
        self._specs: dict[tuple[int, str, Any], list[FieldSpec]] = {}
        self.elements: QListWidget | None = None
        self._repaint_pending = False
        self._build_chrome()
        document.selection_changed.connect(self._selection_changed)
        document.data_changed.connect(self._data_changed)
        document.validated.connect(self._validated)
        document.file_changed.connect(self._file_changed)
        self._base_dir = document.base_dir
        selected, _focus = document.selection
        self.show_path(selected)

    # ------------------------------------------------------------------------- layout

    def _build_chrome(self) -> None:
        self.icon = QLabel()
        self.icon.setFixedSize(QSize(28, 28))
        self.title = QLabel()
        title_font = QFont(self.title.font())
        title_font.setBold(True)
        title_font.setPointSizeF(title_font.pointSizeF() * 1.15)
        self.title.setFont(title_font)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.subtitle = QLabel()
        self.subtitle.setWordWrap(True)
        self.subtitle.setTextFormat(Qt.TextFormat.RichText)
        self.subtitle.linkActivated.connect(self._breadcrumb)
        muted = QPalette(self.subtitle.palette())
        muted.setColor(
            QPalette.ColorRole.WindowText, muted.color(QPalette.ColorRole.PlaceholderText)
        )
        self.subtitle.setPalette(muted)
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        header = QHBoxLayout()
        header.setContentsMargins(8, 6, 8, 4)
        header.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        header.addLayout(titles, 1)
        self.object_problems = QLabel()
        self.object_problems.setWordWrap(True)
        self.object_problems.setTextFormat(Qt.TextFormat.RichText)
        self.object_problems.setContentsMargins(10, 4, 10, 4)
        self.object_problems.setVisible(False)
        self.empty = QLabel("Select the movie, a scene or an element to see its fields.")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setEnabled(False)
        self.empty.setVisible(False)
        self.scroller = QScrollArea()
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.object_problems)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.scroller, 1)
        self.setMinimumWidth(280)

    # ------------------------------------------------------------------------- public

    def show_path(self, path: Path | None) -> None:
        """Show the object at `path` (None or `()`: the movie)."""
        target, _rest = object_path(path)
        if target != self.path:
            self.flush()
        self.path = target
        self.kind = kind_of(target)
        self._refresh(force=True)

    def focus_field(self, field: Path) -> QWidget | None:
        """Scroll to the field (`("font_size",)`, `("transition", "duration")`) and give its
        editor keyboard focus; returns the focused input, None when the field is not shown."""
        if not field:
            return None
        key = field[0]
        if self.kind == "scene" and key == "elements" and self.elements is not None:
            self._expand_section_of(self.elements)
            if len(field) > 1 and isinstance(field[1], int) and field[1] < self.elements.count():
                self.elements.setCurrentRow(field[1])
            self.elements.setFocus(Qt.FocusReason.OtherFocusReason)
            self._ensure_visible(self.elements)
            return self.elements
        row = self.rows.get(str(key))
        if row is None:
            return None
        self._expand_section_of(row.outline)
        target = row.focus(tuple(field[1:]))
        self._ensure_visible(row.outline)
        return target

    def flush(self) -> None:
        """Commit what is being typed in the shown object's fields (before showing another)."""
        for row in list(self.rows.values()):
            row.flush()

    def row(self, key: str) -> FieldRow | None:
        """The row that shows field `key` of the shown object."""
        return self.rows.get(key)

    # ------------------------------------------------------------------------- following

    def _selection_changed(self, path: Any, focus: Any) -> None:
        target, field = object_path(tuple(path) if path else None)
        if focus:
            wanted = tuple(focus)
            if wanted[: len(target)] == target and len(wanted) > len(target):
                # a full path: the field of this object, or of an object inside it
                target, field = object_path(wanted)
            else:
                field = wanted  # a path relative to the object
        if target != self.path:
            self.flush()
        self.path = target
        self.kind = kind_of(target)
        self._refresh(force=False)
        if field:
            self.focus_field(field)

    def _data_changed(self, paths: Iterable[Path]) -> None:
        if self.path is None:
            return
        mine = self.path
        for changed in paths:
            n = min(len(changed), len(mine))
            if changed[:n] == mine[:n] or self._feeds_auto(changed):
                self._refresh(force=False)
                return

    def _feeds_auto(self, changed: Path) -> bool:
        """Whether a change elsewhere alters what the shown element's "auto" values work out
        to (the canvas size, its scene's duration)."""
        if self.kind != "element" or self.path is None:
            return False
        if len(changed) == 1 and changed[0] in ("width", "height"):
            return True
        return len(changed) == 3 and changed[:2] == self.path[:2] and changed[2] == "duration"

    def _file_changed(self) -> None:
        if self.document.base_dir != self._base_dir:
            self._base_dir = self.document.base_dir
            for row in self.rows.values():
                if isinstance(row.editor, SourceEditor):
                    row.editor.refresh()

    def _validated(self, validation: Validation) -> None:
        signature = self._signature
        schema_id = id(self._schema().document)
        if isinstance(signature, tuple) and len(signature) == 5 and signature[4] != schema_id:
            self._refresh(force=True)  # another schema (a connected service's): its fields
            return
        self._show_problems(validation)

    def _auto_value(self, key: str) -> float | None:
        """What a null field of the shown element works out to (spec §3): the canvas for a
        picture's box, 90 % of its width to wrap text, 5 % of its shorter side as margin,
        the rest of the scene for a duration."""
        if self.kind != "element" or self.path is None:
            return None
        width = _number(self.document.value(("width",)), 1920.0)
        height = _number(self.document.value(("height",)), 1080.0)
        if key == "width":
            return width
        if key == "height":
            return height
        if key == "max_width":
            return 0.9 * width
        if key == "margin":
            return 0.05 * min(width, height)
        if key == "padding":
            has_box = self._sibling("background_color") not in (MISSING, None)
            return 0.3 * _number(self._sibling("font_size"), 48.0) if has_box else None
        if key == "duration":
            scene = _number(self.document.value((*self.path[:2], "duration")), 0.0)
            start = _number(self._sibling("start"), 0.0)
            return scene - start if scene > start else None
        return None

    def _sibling(self, key: str) -> Any:
        if self.path is None:
            return MISSING
        return self.document.value((*self.path, key), MISSING)

    # ------------------------------------------------------------------------- building

    def _schema(self) -> Schema:
        schema = getattr(self.document, "schema", None)
        return schema if isinstance(schema, Schema) else active_schema()

    def specs(self, kind: str, element_type: Any = None) -> list[FieldSpec]:
        """The fields of an object kind from the active schema (the bundled one when the
        active schema does not describe that kind)."""
        schema = self._schema()
        key_type = element_type if isinstance(element_type, str) else None
        cache_key = (id(schema.document), kind, key_type)
        specs = self._specs.get(cache_key)
        if specs is None:
            specs = field_specs(schema.document, kind, key_type)
            if len(specs) <= 1 and schema is not bundled_schema():
                specs = field_specs(bundled_schema().document, kind, key_type)
            self._specs[cache_key] = specs
        return specs

    def _refresh(self, force: bool) -> None:
        path = self.path if self.path is not None else ()
        obj = self.document.value(path, MISSING)
        if not isinstance(obj, dict):
            self._signature = ("missing", path)
            self._clear()
            self._show_header(path, obj)
            self.empty.setText(
                "Select the movie, a scene or an element to see its fields."
                if obj is MISSING
                else f"{describe(path).capitalize()} is not an object — fix it in the Script panel."
            )
            self.empty.setVisible(True)
            self.scroller.setVisible(False)
            return
        element_type = obj.get("type") if self.kind == "element" else None
        specs = self.specs(self.kind, element_type)
        known = {spec.key for spec in specs}
        unknown = tuple(key for key in obj if key not in known)
        if self.kind == "scene":
            unknown = tuple(k for k in unknown if k != "elements")
        signature = (
            path,
            self.kind,
            element_type if isinstance(element_type, str) else repr(element_type),
            unknown,
            id(self._schema().document),
        )
        if signature != self._signature:
            self._signature = signature
            self._build(path, specs, unknown)
        self._show_header(path, obj)
        self.empty.setVisible(False)
        self.scroller.setVisible(True)
        for key, row in self.rows.items():
            row.show_value(obj.get(key, MISSING))
        transition = self.rows.get("transition")
        if self.kind == "scene" and transition is not None:
            # the first scene has nothing to blend from: offer no transition there
            first = path[1] == 0 and "transition" not in obj
            transition.editor.setEnabled(not first)
            transition.editor.setToolTip(
                "The first scene has nothing to blend from." if first else ""
            )
        if self.kind == "scene":
            self._fill_elements(path, obj.get("elements"))
        if self.document.validation is not None:
            self._show_problems(self.document.validation)

    def _clear(self) -> None:
        for row in self.rows.values():
            if isinstance(row.editor, SourceEditor):
                row.editor._probing = None
        self.rows = {}
        self.sections = {}
        self.elements = None
        old = self.scroller.takeWidget()
        if old is not None:
            old.deleteLater()

    def _build(self, path: Path, specs: list[FieldSpec], unknown: tuple[str, ...]) -> None:
        self._remember_collapsed()
        self._clear()
        content = QWidget()
        content.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        column = QVBoxLayout(content)
        column.setContentsMargins(4, 0, 4, 8)
        column.setSpacing(0)
        by_key = {spec.key: spec for spec in specs}
        placed: set[str] = set()
        groups: list[tuple[str, str, list[FieldSpec | str]]] = []
        for title, icon, keys in SECTIONS.get(self.kind, []):
            members: list[FieldSpec | str] = [by_key[k] for k in keys if k in by_key]
            placed.update(k for k in keys if k in by_key)
            if members:
                groups.append((title, icon, members))
        rest: list[FieldSpec | str] = [
            s for s in specs if s.key not in placed and s.key not in ("elements", "scenes")
        ]
        if rest:
            groups.append(("More", "mdi6.dots-horizontal", rest))
        if unknown:
            groups.append(("Unknown fields", "mdi6.help-circle-outline", list(unknown)))
        for title, icon, members in groups:
            section = self._section(title, icon)
            for member in members:
                if isinstance(member, str):
                    row = FieldRow(FieldSpec(member), self.context, unknown=True)
                    key = member
                else:
                    row = FieldRow(member, self.context)
                    key = member.key
                row.committed.connect(
                    lambda subpath, value, key=key: self._commit(key, subpath, value)
                )
                self.rows[key] = row
                section.add_row(row)
            column.addWidget(section)
        if self.kind == "scene":
            section = self._section("Elements", "mdi6.layers-outline")
            self.elements = QListWidget()
            self.elements.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            self.elements.itemActivated.connect(self._element_clicked)
            self.elements.itemClicked.connect(self._element_clicked)
            section.add_widget(self.elements)
            column.addWidget(section)
        column.addStretch(1)
        width = max(
            (row.label.sizeHint().width() for row in self.rows.values() if not row.wide),
            default=60,
        )
        for section in self.sections.values():
            section.grid.setColumnMinimumWidth(0, width)
        self.scroller.setWidget(content)

    def _section(self, title: str, icon: str) -> Section:
        expanded = (self.kind, title) not in self._collapsed
        section = Section(title, icon, expanded)
        self.sections[title] = section
        return section

    def _remember_collapsed(self) -> None:
        for title, section in self.sections.items():
            if section.header.isChecked():
                self._collapsed.discard((self.kind, title))
            else:
                self._collapsed.add((self.kind, title))

    def _expand_section_of(self, widget: QWidget) -> None:
        for section in self.sections.values():
            if section.isAncestorOf(widget):
                section.expand()

    def _ensure_visible(self, widget: QWidget) -> None:
        self.scroller.ensureWidgetVisible(widget, 20, 40)
        # a freshly built page has no geometry yet: scroll again once it is laid out
        QTimer.singleShot(0, lambda: self._ensure_visible_later(widget))

    def _ensure_visible_later(self, widget: QWidget) -> None:
        try:
            page = self.scroller.widget()
            if page is not None and page.isAncestorOf(widget):
                self.scroller.ensureWidgetVisible(widget, 20, 40)
        except RuntimeError:  # the page was rebuilt meanwhile
            pass

    # ------------------------------------------------------------------------- header

    def _show_header(self, path: Path, obj: Any) -> None:
        kind = self.kind
        if kind == "movie":
            icon, title = "mdi6.movie-open-outline", "Movie"
            subtitle = _escape(self._movie_summary(obj))
        elif kind == "scene":
            index = int(path[1]) + 1
            name = obj.get("name") if isinstance(obj, dict) else None
            icon = "mdi6.filmstrip-box"
            title = f"Scene {index}" + (f" — {name}" if isinstance(name, str) and name else "")
            subtitle = '<a href="movie">Movie</a> · ' + _escape(self._scene_summary(path, obj))
        else:
            element_type = obj.get("type") if isinstance(obj, dict) else None
            icon = ELEMENT_ICONS.get(str(element_type), "mdi6.help-box-outline")
            known = isinstance(element_type, str) and element_type in ELEMENT_ICONS
            title = f"{str(element_type).capitalize()} element" if known else "Element"
            subtitle = f'<a href="scene">Scene {int(path[1]) + 1}</a> › element {int(path[3]) + 1}'
        self.icon.setPixmap(themed_icon(icon, self).pixmap(24, 24))
        self.title.setText(title)
        self.subtitle.setText(subtitle)

    def _breadcrumb(self, href: str) -> None:
        """The header's links: up to the scene of an element, or to the movie."""
        if self.path is None:
            return
        self.document.select(self.path[:2] if href == "scene" else ())

    def _movie_summary(self, obj: Any) -> str:
        if not isinstance(obj, dict):
            return ""
        scenes = obj.get("scenes")
        parts = []
        width, height = obj.get("width", 1920), obj.get("height", 1080)
        parts.append(f"{width}×{height}")
        if isinstance(scenes, list):
            total = sum(
                s["duration"]
                for s in scenes
                if isinstance(s, dict)
                and isinstance(s.get("duration"), int | float)
                and not isinstance(s.get("duration"), bool)
            )
            parts.append(f"{len(scenes)} scene{'s' if len(scenes) != 1 else ''}")
            parts.append(_seconds(total))
        return " · ".join(parts)

    def _scene_summary(self, path: Path, obj: Any) -> str:
        scenes = self.document.value(("scenes",), [])
        start = 0.0
        index = int(path[1])
        if isinstance(scenes, list):
            for scene in scenes[:index]:
                duration = scene.get("duration") if isinstance(scene, dict) else None
                if isinstance(duration, int | float) and not isinstance(duration, bool):
                    start += duration
        elements = obj.get("elements") if isinstance(obj, dict) else None
        count = len(elements) if isinstance(elements, list) else 0
        return f"starts at {_seconds(start)} · {count} element{'s' if count != 1 else ''}"

    # ------------------------------------------------------------------------- elements list

    def _fill_elements(self, path: Path, elements: Any) -> None:
        view = self.elements
        if view is None:
            return
        items = elements if isinstance(elements, list) else []
        texts = [_element_label(e) for e in items]
        if texts != view.property("labels"):
            view.setProperty("labels", texts)
            view.clear()
            for j, (text, element) in enumerate(zip(texts, items, strict=True)):
                kind = element.get("type") if isinstance(element, dict) else None
                item = QListWidgetItem(
                    themed_icon(ELEMENT_ICONS.get(str(kind), "mdi6.help-box-outline"), self), text
                )
                item.setData(Qt.ItemDataRole.UserRole, j)
                view.addItem(item)
            if not items:
                placeholder = QListWidgetItem("No elements")
                placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
                view.addItem(placeholder)
        rows = max(1, view.count())
        view.setFixedHeight(min(rows, 8) * max(view.sizeHintForRow(0), 20) + 6)

    def _element_clicked(self, item: QListWidgetItem) -> None:
        index = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(index, int) and self.path is not None:
            self.document.select((*self.path, "elements", index))

    # ------------------------------------------------------------------------- problems

    def _show_problems(self, validation: Validation) -> None:
        path = self.path
        if path is None or self._signature is None or self._signature[0] == "missing":
            self.object_problems.setVisible(False)
            return
        n = len(path)
        by_key: dict[str, list[Problem]] = {}
        own: list[Problem] = []
        children: dict[int, list[Problem]] = {}
        for problem in validation.problems:
            where = problem.path
            if where[:n] != path:
                continue
            rest = where[n:]
            if not rest:
                own.append(problem)
                continue
            key = str(rest[0])
            if key in self.rows:
                by_key.setdefault(key, []).append(problem)
            elif key in ("scenes", "elements") and len(rest) > 1:
                if self.kind == "scene" and isinstance(rest[1], int):
                    children.setdefault(rest[1], []).append(problem)
            else:
                own.append(problem)
        for key, row in self.rows.items():
            row.set_problems(by_key.get(key, []))
        for section in self.sections.values():
            section.show_problem_count()
        self._show_own_problems(own)
        self._flag_elements(children)

    def _show_own_problems(self, problems: list[Problem]) -> None:
        if not problems:
            self.object_problems.setVisible(False)
            self.object_problems.clear()
            return
        lines = []
        for problem in problems[:20]:
            color = problem_color(problem.severity, self.palette()).name()
            where = problem.path_text[len(".".join(str(p) for p in self.path or ())) :].lstrip(".")
            prefix = f"<b>{_escape(where)}</b>: " if where else ""
            lines.append(f'<span style="color:{color}">● {prefix}{_escape(problem.message)}</span>')
        if len(problems) > 20:
            lines.append(f"… and {len(problems) - 20} more")
        self.object_problems.setText("<br>".join(lines))
        self.object_problems.setVisible(True)

    def _flag_elements(self, children: dict[int, list[Problem]]) -> None:
        view = self.elements
        if view is None:
            return
        for i in range(view.count()):
            item = view.item(i)
            index = item.data(Qt.ItemDataRole.UserRole)
            if not isinstance(index, int):
                continue
            problems = children.get(index, [])
            severity = worst(problems)
            if severity is None:
                item.setToolTip("")
                item.setForeground(self.palette().color(QPalette.ColorRole.Text))
            else:
                item.setToolTip("\n".join(p.message for p in problems))
                item.setForeground(problem_color(severity, self.palette()))

    # ------------------------------------------------------------------------- editing

    def _commit(self, key: str, subpath: Path, value: Any) -> None:
        if self.path is None:
            return
        path: Path = (*self.path, key, *subpath)
        document = self.document
        if self.kind == "element" and key == "type" and not subpath and value is not MISSING:
            self._change_type(value)
            return
        if value is MISSING:
            if document.value(path, MISSING) is MISSING:
                return
            verb = "Remove" if key not in {s.key for s in self._current_specs()} else "Reset"
            document.set_value(path, MISSING, f"{verb} {describe(path)}", merge=False)
            return
        row = self.rows.get(key)
        editor = row.editor if row is not None else None
        merge = isinstance(editor, NumberEditor | TextEditor | RawEditor) or subpath == (
            "duration",
        )
        document.set_value(path, value, f"Change {describe(path)}", merge=merge)

    def _current_specs(self) -> list[FieldSpec]:
        obj = self.document.value(self.path or (), {})
        element_type = obj.get("type") if isinstance(obj, dict) else None
        return self.specs(self.kind, element_type)

    def _change_type(self, new_type: Any) -> None:
        """Change an element's kind in one step: fields the old kind had and the new one does
        not are removed (unknown keys the user typed stay, with their problems)."""
        assert self.path is not None
        element = self.document.value(self.path, MISSING)
        if not isinstance(element, dict):
            return
        old_type = element.get("type", MISSING)
        if old_type == new_type:
            return
        old_keys = {s.key for s in self.specs("element", old_type)}
        new_keys = {s.key for s in self.specs("element", new_type)}
        changes = [Change((*self.path, "type"), old_type, new_type)]
        for key, value in element.items():
            if key != "type" and key in old_keys and key not in new_keys:
                changes.append(Change((*self.path, key), value, MISSING))
        self.document.edit(changes, f"Change {describe(self.path)} to {new_type}")

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and not self._repaint_pending:
            # light ↔ dark: icons and problem colours are drawn for a palette; draw them anew
            self._repaint_pending = True
            QTimer.singleShot(0, self._palette_changed)

    def _palette_changed(self) -> None:
        self._repaint_pending = False
        self._signature = None
        self._refresh(force=True)

    def closeEvent(self, event: Any) -> None:
        self.tasks.shutdown()
        super().closeEvent(event)


def _number(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return default


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.2f}".rstrip("0").rstrip(".") + " s"
    minutes, rest = divmod(value, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def _element_label(element: Any) -> str:
    if not isinstance(element, dict):
        return "(not an object)"
    kind = element.get("type")
    if kind == "text":
        text = element.get("text")
        shown = text.replace("\n", " ") if isinstance(text, str) else ""
        return f"Text: {shown[:40]}{'…' if len(shown) > 40 else ''}"
    src = element.get("src")
    if isinstance(src, str) and src:
        name = src.rstrip("/").rsplit("/", 1)[-1]
        return f"{str(kind).capitalize()}: {name}"
    return str(kind).capitalize() if isinstance(kind, str) else "(no type)"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
