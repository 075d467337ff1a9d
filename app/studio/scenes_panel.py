"""The Scenes dock: every scene as a row — thumbnail, name, duration, transition, problems.

A model/view list (`ScenesModel` + `SceneDelegate`) so a 1,000-scene movie costs only the rows on
screen; thumbnails come from `SceneThumbnails` (worker-rendered, cached by scene content). Every
action is one undo step on the document with a readable name ("Add scene 3", "Move scene 2",
"Delete scene 4"); the list follows `data_changed`, `validated` and `selection_changed`, never
another panel.
"""

from __future__ import annotations

import copy
import math
import os
from html import escape
from pathlib import Path as FilePath
from typing import Any

import qtawesome
from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QEvent,
    QItemSelectionModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QDrag,
    QFont,
    QFontMetrics,
    QIcon,
    QImage,
    QKeySequence,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.script.jsonpath import Path
from app.script.problems import Problem
from app.studio.document import MISSING, Change, ScriptDocument, Validation
from app.studio.media_elements import (
    DroppedMedia,
    add_elements,
    elements_for_files,
    is_script_file,
    local_files,
)
from app.studio.tasks import TaskRunner
from app.studio.thumbnails import SceneThumbnails

#: MIME type of a scene row being dragged inside the list (payload: the row number).
SCENE_MIME = "application/x-reelsmith-scene-row"
#: What "Add scene" creates.
DEFAULT_SCENE_SECONDS = 5.0
DEFAULT_BACKGROUND = "#101820"
#: How long the panel's notice (e.g. "a movie needs at least one scene") stays up.
NOTICE_MS = 6000

ROW_HEIGHT = 66
THUMB_BOX = QSize(96, 54)
MARGIN = 6

DurationRole = Qt.ItemDataRole.UserRole + 1
TransitionRole = Qt.ItemDataRole.UserRole + 2
ProblemsRole = Qt.ItemDataRole.UserRole + 3
ThumbnailRole = Qt.ItemDataRole.UserRole + 4
ElementCountRole = Qt.ItemDataRole.UserRole + 5


def problem_colour(palette: QPalette, severity: str) -> QColor:
    """Red for errors, amber for warnings, in shades that stand out on light and dark palettes."""
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    if severity == "error":
        return QColor("#ff6b6b" if dark else "#c62828")
    return QColor("#ffb74d" if dark else "#9a5b00")


def icon(name: str, palette: QPalette) -> QIcon:
    """A Material icon in the palette's text colour (so it reads on light and dark themes)."""
    result: QIcon = qtawesome.icon(
        name,
        color=palette.color(QPalette.ColorRole.WindowText),
        color_disabled=palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText),
    )
    return result


def format_seconds(value: float) -> str:
    """`5 s`, `2.5 s`, `1:05.2` — durations as people read them."""
    if value < 60:
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return f"{text} s"
    minutes, seconds = divmod(value, 60)
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"{int(hours)}:{int(minutes):02d}:{seconds:04.1f}"
    return f"{int(minutes)}:{seconds:04.1f}"


def number(value: Any) -> float | None:
    """A finite JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def scene_problems(validation: Validation | None) -> dict[int, list[Problem]]:
    """Problems grouped by the scene they are in (one pass over all problems)."""
    found: dict[int, list[Problem]] = {}
    if validation is None:
        return found
    for problem in validation.problems:
        path = problem.path
        if len(path) >= 2 and path[0] == "scenes" and isinstance(path[1], int):
            found.setdefault(path[1], []).append(problem)
    return found


def problems_tooltip(problems: list[Problem]) -> str:
    """Problems as tooltip lines (rich text): severity, path, message."""
    lines = []
    for problem in problems[:12]:
        where = problem.path_text
        lines.append(
            f"<b>{escape(problem.severity)}</b> {escape(where)}: {escape(problem.message)}"
        )
    if len(problems) > 12:
        lines.append(f"… and {len(problems) - 12} more")
    return "<br>".join(lines)


class ScenesModel(QAbstractListModel):
    """The scenes of the document as rows; edits (rename, drop) go through the document."""

    #: a drop of media files was refused, in part or whole (message for the user)
    media_refused = Signal(str)

    def __init__(self, document: ScriptDocument, parent: Any = None) -> None:
        super().__init__(parent)
        self.document = document
        self.thumbnails = SceneThumbnails(document, self)
        self.thumbnails.ready.connect(self._thumbnail_ready)
        self.thumbnails.changed.connect(self._thumbnails_changed)
        self._problems = scene_problems(document.validation)
        self._count = self._scene_count()
        self._tasks = TaskRunner(max_workers=1, name="reelsmith-scene-drop", parent=self)
        self._token = f"{os.getpid()}-{id(self)}"
        document.data_changed.connect(self._data_changed)
        document.validated.connect(self._validated)

    # ----------------------------------------------------------------------------- reading

    def _scenes(self) -> list[Any]:
        scenes = self.document.value(("scenes",))
        return scenes if isinstance(scenes, list) else []

    def _scene_count(self) -> int:
        return len(self._scenes())

    def scene(self, row: int) -> Any:
        scenes = self._scenes()
        return scenes[row] if 0 <= row < len(scenes) else None

    def display_name(self, row: int) -> str:
        scene = self.scene(row)
        name = scene.get("name") if isinstance(scene, dict) else None
        if isinstance(name, str) and name.strip():
            return name
        return f"Scene {row + 1}"

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._count

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        row = index.row()
        if not index.isValid() or not 0 <= row < self._count:
            return None
        scene = self.scene(row)
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display_name(row)
        if role == Qt.ItemDataRole.EditRole:
            name = scene.get("name") if isinstance(scene, dict) else None
            return name if isinstance(name, str) else ""
        if role == DurationRole:
            return number(scene.get("duration")) if isinstance(scene, dict) else None
        if role == TransitionRole:
            transition = scene.get("transition") if isinstance(scene, dict) else None
            if isinstance(transition, dict):
                kind = transition.get("type")
                return (kind if isinstance(kind, str) else "?", number(transition.get("duration")))
            return None
        if role == ElementCountRole:
            elements = scene.get("elements") if isinstance(scene, dict) else None
            return len(elements) if isinstance(elements, list) else 0
        if role == ProblemsRole:
            return self._problems.get(row, [])
        if role == ThumbnailRole:
            return self.thumbnails.get(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            problems = self._problems.get(row, [])
            head = f"<b>{escape(self.display_name(row))}</b>"
            return head + ("<br>" + problems_tooltip(problems) if problems else "")
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self.display_name(row)
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        return (
            Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsEditable
            | Qt.ItemFlag.ItemIsDragEnabled
            | Qt.ItemFlag.ItemIsDropEnabled
        )

    def setData(
        self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = 2
    ) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        row = index.row()
        scene = self.scene(row)
        if not isinstance(scene, dict):
            return False
        name = str(value).strip()
        old = scene.get("name", MISSING)
        new = name if name else MISSING
        if old == new:
            return False
        self.document.edit([Change(("scenes", row, "name"), old, new)], f"Rename scene {row + 1}")
        return True

    # ----------------------------------------------------------------------------- drag and drop

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [SCENE_MIME, "text/uri-list"]

    def mimeData(self, indexes: Any) -> QMimeData:
        mime = QMimeData()
        rows = sorted({i.row() for i in indexes if i.isValid()})
        if rows:  # tagged with this list, so a row from another list or process never moves
            mime.setData(SCENE_MIME, QByteArray(f"{self._token}:{rows[0]}".encode()))
        return mime

    def _dragged_row(self, data: QMimeData) -> int | None:
        if not data.hasFormat(SCENE_MIME):
            return None
        token, _, row = bytes(data.data(SCENE_MIME).data()).decode(errors="replace").partition(":")
        if token != self._token or not row.isdigit():
            return None
        return int(row) if int(row) < self._count else None

    def canDropMimeData(
        self,
        data: QMimeData,
        action: Qt.DropAction,
        row: int,
        column: int,
        parent: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        if data.hasFormat(SCENE_MIME):
            return self._dragged_row(data) is not None
        return any(not is_script_file(p) for p in local_files(data))

    def dropMimeData(
        self,
        data: QMimeData,
        action: Qt.DropAction,
        row: int,
        column: int,
        parent: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        """A scene row dropped between rows moves there (on a row: takes its place); media
        files dropped on a row become elements of that scene, between rows a new scene."""
        if data.hasFormat(SCENE_MIME):
            source = self._dragged_row(data)
            if source is None:
                return False
            if parent.isValid():
                target = parent.row()
            elif row < 0:
                target = self._count - 1
            else:
                target = row if row <= source else row - 1
            target = min(max(target, 0), self._count - 1)
            if target == source:
                return False
            self.document.move(("scenes",), source, target, f"Move scene {source + 1}")
            self.document.select(("scenes", target))
            return True
        files = [p for p in local_files(data) if not is_script_file(p)]
        if not files:
            return False
        if parent.isValid():
            self.drop_media(files, parent.row())
        else:
            self.drop_media(files, None, new_scene_at=self._count if row < 0 else row)
        return True

    def drop_media(
        self, files: list[FilePath], scene: int | None, new_scene_at: int | None = None
    ) -> None:
        """Probe `files` on a worker, then add them to scene `scene` (or as a new scene at
        `new_scene_at`) in one undo step; refusals are reported by `media_refused`."""
        base_dir = self.document.base_dir
        self._tasks.run(
            elements_for_files,
            files,
            base_dir,
            done=lambda result, error: self._media_probed(result, error, scene, new_scene_at),
        )

    def _media_probed(
        self,
        result: DroppedMedia | None,
        error: BaseException | None,
        scene: int | None,
        new_scene_at: int | None,
    ) -> None:
        if error is not None or result is None:
            self.media_refused.emit(f"The files could not be read: {error}")
            return
        if result.errors:
            self.media_refused.emit(result.message())
        if not result.elements:
            return
        if scene is not None:
            if not add_elements(self.document, scene, result.elements):
                self.media_refused.emit(f"Scene {scene + 1} cannot take elements")
            return
        at = min(max(new_scene_at or 0, 0), self._count)
        durations = [d for e in result.elements if (d := number(e.get("duration")))]
        seconds = min(max(durations), 3600.0) if durations else DEFAULT_SCENE_SECONDS
        new_scene = {
            "duration": round(seconds, 3),
            "background": "#000000",
            "elements": result.elements,
        }
        self.document.insert(("scenes", at), new_scene, f"Add scene {at + 1} from media")
        self.document.select(("scenes", at))

    # ----------------------------------------------------------------------------- following

    def _data_changed(self, paths: tuple[Path, ...]) -> None:
        # () = anything; ("scenes",) = the list itself (an insert, removal or move)
        structural = any(p == () or p == ("scenes",) for p in paths)
        count = self._scene_count()
        if structural or count != self._count:
            self.beginResetModel()
            self._count = count
            self.endResetModel()
            return
        rows = sorted(
            {p[1] for p in paths if len(p) >= 2 and p[0] == "scenes" and isinstance(p[1], int)}
        )
        for row in rows:
            if 0 <= row < self._count:
                index = self.index(row)
                self.dataChanged.emit(index, index)

    def _validated(self, validation: Validation) -> None:
        before = self._problems
        self._problems = scene_problems(validation)
        changed = {
            row
            for row in before.keys() | self._problems.keys()
            if before.get(row) != self._problems.get(row)
        }
        if changed and self._count:
            first, last = min(changed), max(changed)
            first, last = max(0, first), min(self._count - 1, last)
            if first <= last:
                self.dataChanged.emit(self.index(first), self.index(last))

    def _thumbnails_changed(self) -> None:
        if self._count:
            self.dataChanged.emit(self.index(0), self.index(self._count - 1), [ThumbnailRole])

    def _thumbnail_ready(self, row: int) -> None:
        if 0 <= row < self._count:
            index = self.index(row)
            self.dataChanged.emit(index, index, [ThumbnailRole])

    def close(self) -> None:
        self._tasks.shutdown()
        self.thumbnails.close()


class SceneDelegate(QStyledItemDelegate):
    """Paints a scene row; edits its name in place."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:
        return QSize(max(200, option.rect.width()), ROW_HEIGHT)

    # geometry shared by paint and the rename editor
    @staticmethod
    def _thumb_rect(rect: QRect) -> QRect:
        # narrow docks get a smaller picture so the name keeps its room
        width = THUMB_BOX.width() if rect.width() >= 300 else THUMB_BOX.width() * 3 // 4
        height = width * 9 // 16
        top = rect.top() + (rect.height() - height) // 2
        return QRect(rect.left() + MARGIN, top, width, height)

    def _name_rect(self, option: QStyleOptionViewItem) -> QRect:
        rect = option.rect
        left = self._thumb_rect(rect).right() + 10
        height = QFontMetrics(self._bold(option.font)).height() + 4
        return QRect(left, rect.top() + 8, rect.right() - MARGIN - left, height)

    @staticmethod
    def _bold(font: QFont) -> QFont:
        bold = QFont(font)
        bold.setBold(True)
        return bold

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        painter.save()
        try:
            self._paint(painter, option, index)
        finally:
            painter.restore()

    def _paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        palette = option.palette
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        widget = option.widget
        style = widget.style() if widget is not None else None
        if style is not None:  # selection/hover background in the platform's way
            base = QStyleOptionViewItem(option)
            base.text = ""
            base.icon = QIcon()
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, base, painter, widget)
        text_colour = palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        dim = QColor(text_colour)
        dim.setAlphaF(0.72)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)

        # thumbnail (or a placeholder until it is ready)
        box = self._thumb_rect(rect)
        painter.fillRect(box, QColor(0, 0, 0))
        image = index.data(ThumbnailRole)
        if isinstance(image, QImage) and not image.isNull():
            size = (
                image.deviceIndependentSize()
                .toSize()
                .scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            )
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(box.center())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(target, image)
        else:
            placeholder = QColor(palette.color(QPalette.ColorRole.Mid))
            painter.fillRect(box, placeholder)
            glyph = qtawesome.icon("mdi6.movie-open-outline", color=QColor(255, 255, 255, 150))
            side = box.height() // 2
            glyph.paint(
                painter,
                QRect(box.center().x() - side // 2, box.center().y() - side // 2, side, side),
            )
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(box.adjusted(0, 0, -1, -1))

        # problem flag at the right
        problems: list[Problem] = index.data(ProblemsRole) or []
        right = rect.right() - MARGIN
        if problems:
            errors = sum(1 for p in problems if p.is_error)
            severity = "error" if errors else "warning"
            colour = problem_colour(palette, severity)
            count = str(errors or len(problems))
            badge_font = self._bold(option.font)
            metrics = QFontMetrics(badge_font)
            width = 18 + metrics.horizontalAdvance(count) + 8
            badge = QRect(right - width, rect.top() + 8, width, metrics.height() + 4)
            fill = QColor(colour)
            fill.setAlpha(40)
            painter.setPen(QPen(colour, 1.2))
            painter.setBrush(fill)
            painter.drawRoundedRect(badge, 4, 4)
            glyph_name = "mdi6.alert-circle" if severity == "error" else "mdi6.alert"
            qtawesome.icon(glyph_name, color=colour).paint(
                painter, QRect(badge.left() + 3, badge.top() + 2, 14, badge.height() - 4)
            )
            painter.setFont(badge_font)
            painter.setPen(colour if not selected else text_colour)
            painter.drawText(badge.adjusted(18, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter, count)
            right = badge.left() - 6

        # name
        name_rect = self._name_rect(option)
        name_rect.setRight(min(name_rect.right(), right))
        bold = self._bold(option.font)
        painter.setFont(bold)
        painter.setPen(text_colour)
        name = QFontMetrics(bold).elidedText(
            str(index.data(Qt.ItemDataRole.DisplayRole)),
            Qt.TextElideMode.ElideRight,
            name_rect.width(),
        )
        painter.drawText(
            name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name
        )

        # second line: duration, transition badge, element count
        painter.setFont(option.font)
        metrics = QFontMetrics(option.font)
        x = name_rect.left()
        y = name_rect.bottom() + 4
        line_h = metrics.height() + 2
        duration = index.data(DurationRole)
        if duration is None:
            colour = problem_colour(palette, "error")
            painter.setPen(colour)
            label = "no valid duration"
        else:
            painter.setPen(dim)
            label = format_seconds(duration)
        clock = qtawesome.icon("mdi6.timer-outline", color=painter.pen().color())
        clock.paint(painter, QRect(x, y + (line_h - 14) // 2, 14, 14))
        x += 17
        limit = rect.right() - MARGIN
        label = metrics.elidedText(label, Qt.TextElideMode.ElideRight, max(0, limit - x))
        painter.drawText(QRect(x, y, limit - x, line_h), Qt.AlignmentFlag.AlignVCenter, label)
        x += metrics.horizontalAdvance(label) + 10
        transition = index.data(TransitionRole)
        if transition is not None:
            kind, seconds = transition
            text = kind if seconds is None else f"{kind} {format_seconds(seconds)}"
            width = 18 + metrics.horizontalAdvance(text) + 8
            if x + width <= limit:
                badge = QRect(x, y, width, line_h)
                accent = QColor(palette.color(QPalette.ColorRole.Highlight))
                if selected:
                    accent = QColor(text_colour)
                fill = QColor(accent)
                fill.setAlpha(45)
                painter.setPen(QPen(accent, 1))
                painter.setBrush(fill)
                painter.drawRoundedRect(badge, 4, 4)
                qtawesome.icon("mdi6.transition", color=text_colour).paint(
                    painter, QRect(badge.left() + 3, badge.top() + (line_h - 14) // 2, 14, 14)
                )
                painter.setPen(text_colour)
                painter.drawText(badge.adjusted(19, 0, -3, 0), Qt.AlignmentFlag.AlignVCenter, text)
                x = badge.right() + 10
        elements = int(index.data(ElementCountRole) or 0)
        if elements:
            text = f"{elements} element{'s' if elements != 1 else ''}"
            if x + metrics.horizontalAdvance(text) <= limit:
                painter.setPen(dim)
                painter.drawText(
                    QRect(x, y, limit - x, line_h), Qt.AlignmentFlag.AlignVCenter, text
                )

    # rename in place
    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Any) -> QWidget:
        editor = QLineEdit(parent)
        editor.setPlaceholderText(f"Scene {index.row() + 1}")
        editor.setFrame(True)
        return editor

    def setEditorData(self, editor: QWidget, index: Any) -> None:
        if isinstance(editor, QLineEdit):
            editor.setText(str(index.data(Qt.ItemDataRole.EditRole) or ""))
            editor.selectAll()

    def setModelData(self, editor: QWidget, model: Any, index: Any) -> None:
        if isinstance(editor, QLineEdit):
            model.setData(index, editor.text(), Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(
        self, editor: QWidget, option: QStyleOptionViewItem, index: Any
    ) -> None:
        rect = self._name_rect(option)
        height = max(rect.height(), editor.sizeHint().height())
        editor.setGeometry(QRect(rect.left() - 3, rect.top() - 2, rect.width() + 6, height))


class ScenesView(QListView):
    """The list: starts drags itself so a move never removes rows behind the document's back."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def startDrag(self, supportedActions: Qt.DropAction) -> None:
        index = self.currentIndex()
        if not index.isValid() or self.model() is None:
            return
        drag = QDrag(self)
        drag.setMimeData(self.model().mimeData([index]))
        image = index.data(ThumbnailRole)
        if isinstance(image, QImage) and not image.isNull():
            drag.setPixmap(QPixmap.fromImage(image).scaledToHeight(40))
        drag.exec(Qt.DropAction.MoveAction)


class ScenesPanel(QWidget):
    """The Scenes dock's widget. Actions (also for the window's menus): `add_action`,
    `duplicate_action` (Ctrl+D), `delete_action` (Delete), `move_up_action` (Alt+Up),
    `move_down_action` (Alt+Down), `rename_action` (F2). `message(str)` carries notices for the
    status bar (a refused delete, media that could not be added)."""

    message = Signal(str)

    def __init__(self, document: ScriptDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ScenesPanel")
        self.document = document
        self.model = ScenesModel(document, self)
        self.view = ScenesView(self)
        self.view.setModel(self.model)
        self.view.setItemDelegate(SceneDelegate(self.view))
        self.view.setAccessibleName("Scenes")
        self._syncing = False

        self.notice = QLabel(self)
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice.setContentsMargins(8, 4, 8, 4)
        self.notice.hide()
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.setInterval(NOTICE_MS)
        self._notice_timer.timeout.connect(self.notice.hide)

        self.add_action = self._action("Add scene", "mdi6.plus", "Ctrl+Shift+N", self.add_scene)
        self.duplicate_action = self._action(
            "Duplicate scene", "mdi6.content-duplicate", "Ctrl+D", self.duplicate_scene
        )
        self.delete_action = self._action(
            "Delete scene",
            "mdi6.delete-outline",
            QKeySequence.StandardKey.Delete,
            self.delete_scene,
        )
        self.move_up_action = self._action("Move scene up", "mdi6.arrow-up", "Alt+Up", self.move_up)
        self.move_down_action = self._action(
            "Move scene down", "mdi6.arrow-down", "Alt+Down", self.move_down
        )
        self.rename_action = self._action("Rename scene", "mdi6.rename-outline", "F2", self.rename)

        self.toolbar = QToolBar("Scenes", self)
        self.toolbar.setIconSize(QSize(18, 18))
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        for action in (self.add_action, self.duplicate_action, self.delete_action):
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.move_up_action)
        self.toolbar.addAction(self.move_down_action)
        add_button = self.toolbar.widgetForAction(self.add_action)
        if isinstance(add_button, QToolButton):
            add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        # a footer: the toolbar keeps all its buttons however narrow the dock gets
        self.summary = QLabel(self)
        self.summary.setContentsMargins(8, 3, 8, 3)
        self.summary.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.notice)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary)

        self.view.selectionModel().currentChanged.connect(self._current_changed)
        self.view.clicked.connect(self._clicked)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.model.modelReset.connect(self._after_reset)
        self.model.media_refused.connect(self.show_notice)
        document.selection_changed.connect(self._selection_changed)
        document.data_changed.connect(self._update_summary)
        self._style_notice()
        self._update_actions()
        self._update_summary()
        self._selection_changed(*document.selection)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.aboutToQuit.connect(self.shutdown)

    # ----------------------------------------------------------------------------- actions

    def _action(self, text: str, glyph: str, shortcut: Any, slot: Any) -> QAction:
        action = QAction(icon(glyph, self.palette()), text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(
            f"{text} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
        )
        action.setData(glyph)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def current_row(self) -> int | None:
        index = self.view.currentIndex()
        return (
            index.row()
            if index.isValid() and self.view.selectionModel().isSelected(index)
            else None
        )

    def _scene_count(self) -> int:
        return self.model.rowCount()

    def add_scene(self) -> None:
        """A new scene after the selected one (at the end when none is), with the selected
        scene's background, 5 s long; it becomes the selection."""
        row = self.current_row()
        at = self._scene_count() if row is None else row + 1
        background = DEFAULT_BACKGROUND
        near = self.model.scene(row if row is not None else at - 1)
        if isinstance(near, dict) and isinstance(near.get("background"), str):
            background = near["background"]
        scene = {"duration": DEFAULT_SCENE_SECONDS, "background": background, "elements": []}
        if not isinstance(self.document.value(("scenes",)), list):
            self.document.set_value(("scenes",), [scene], "Add scene 1", merge=False)
            at = 0
        else:
            self.document.insert(("scenes", at), scene, f"Add scene {at + 1}")
        self.document.select(("scenes", at))

    def duplicate_scene(self) -> None:
        row = self.current_row()
        if row is None:
            return
        scene = copy.deepcopy(self.model.scene(row))
        if isinstance(scene, dict) and isinstance(scene.get("name"), str) and scene["name"]:
            scene["name"] = f"{scene['name']} copy"
        self.document.insert(("scenes", row + 1), scene, f"Duplicate scene {row + 1}")
        self.document.select(("scenes", row + 1))

    def delete_scene(self) -> None:
        row = self.current_row()
        if row is None:
            return
        if self._scene_count() <= 1:
            self.show_notice(
                "A movie needs at least one scene, so the last one cannot be deleted. "
                "Add another scene first, or edit this one."
            )
            return
        self.document.remove(("scenes", row), f"Delete scene {row + 1}")
        self.document.select(("scenes", min(row, self._scene_count() - 1)))

    def move_up(self) -> None:
        self._move(-1)

    def move_down(self) -> None:
        self._move(1)

    def _move(self, step: int) -> None:
        row = self.current_row()
        if row is None or not 0 <= row + step < self._scene_count():
            return
        self.document.move(("scenes",), row, row + step, f"Move scene {row + 1}")
        self.document.select(("scenes", row + step))

    def rename(self) -> None:
        index = self.view.currentIndex()
        if index.isValid():
            self.view.setFocus()
            self.view.edit(index)

    def show_notice(self, text: str) -> None:
        """Show a message above the list for a few seconds (and on `message` for the window)."""
        self.notice.setText(text)
        self.notice.show()
        self._notice_timer.start()
        self.message.emit(text)

    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        for action in (
            self.rename_action,
            None,
            self.add_action,
            self.duplicate_action,
            self.delete_action,
            None,
            self.move_up_action,
            self.move_down_action,
        ):
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        menu.popup(self.view.viewport().mapToGlobal(pos))

    # ----------------------------------------------------------------------------- following

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._update_actions()
        if self._syncing or not current.isValid():
            return
        path, _focus = self.document.selection
        if path is not None and len(path) >= 2 and path[:2] == ("scenes", current.row()):
            return  # already inside this scene (an element of it is selected elsewhere)
        self._syncing = True
        try:
            self.document.select(("scenes", current.row()))
        finally:
            self._syncing = False

    def _clicked(self, index: QModelIndex) -> None:
        """A click on the row of the scene whose element is selected selects the scene."""
        if index.isValid() and self.document.selection[0] != ("scenes", index.row()):
            self.document.select(("scenes", index.row()))

    def _selection_changed(self, path: Path | None, _focus: Path | None) -> None:
        if self._syncing:
            return
        row = path[1] if path and len(path) >= 2 and path[0] == "scenes" else None
        self._syncing = True
        try:
            if isinstance(row, int) and 0 <= row < self._scene_count():
                index = self.model.index(row)
                self.view.selectionModel().setCurrentIndex(
                    index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                )
                self.view.scrollTo(index)
            elif path is not None and len(path) < 2:
                self.view.selectionModel().clearSelection()
        finally:
            self._syncing = False
        self._update_actions()

    def _after_reset(self) -> None:
        self._selection_changed(*self.document.selection)
        self._update_actions()

    def _update_actions(self) -> None:
        row = self.current_row()
        count = self._scene_count()
        has = row is not None
        self.duplicate_action.setEnabled(has)
        self.delete_action.setEnabled(has)
        self.rename_action.setEnabled(has)
        self.move_up_action.setEnabled(has and row is not None and row > 0)
        self.move_down_action.setEnabled(has and row is not None and row < count - 1)

    def _update_summary(self, _paths: Any = None) -> None:
        scenes = self.document.value(("scenes",))
        if not isinstance(scenes, list):
            self.summary.setText("")
            return
        total = sum(
            d
            for s in scenes
            if isinstance(s, dict) and (d := number(s.get("duration"))) is not None
        )
        count = len(scenes)
        self.summary.setText(f"{count} scene{'s' if count != 1 else ''} · {format_seconds(total)}")

    def _style_notice(self) -> None:
        colour = problem_colour(self.palette(), "warning")
        self.notice.setStyleSheet(
            f"QLabel {{ border-left: 3px solid {colour.name()}; "
            f"background: rgba({colour.red()}, {colour.green()}, {colour.blue()}, 40); }}"
        )

    def changeEvent(self, event: Any) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            for action in self.actions():
                glyph = action.data()
                if isinstance(glyph, str):
                    action.setIcon(icon(glyph, self.palette()))
            self._style_notice()
        super().changeEvent(event)

    def showEvent(self, event: Any) -> None:
        self.model.thumbnails.set_device_ratio(self.devicePixelRatioF())
        super().showEvent(event)

    def shutdown(self) -> None:
        """Stop the workers (the window calls this when it closes)."""
        self.model.close()
