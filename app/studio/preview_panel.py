"""The Preview dock: the player's canvas, transport controls, scrubber, timecode and media errors.

    panel = PreviewPanel(document)           # a QWidget for the window's Preview dock
    menu.addActions(panel.playback_actions)  # Play/Pause, J/K/L, frame step, Home/End, I/O, loop

The panel follows `document.playhead` (the timeline seeks it) and drives it while playing; the
frames, clock and sound live in `app.studio.player.Player` (`panel.player`). The actions'
shortcuts have `Qt.WidgetWithChildrenShortcut` context, so they work while the preview (or one
of its controls) has focus; a window that wants them everywhere sets
`Qt.WindowShortcut` on them (`panel.set_shortcut_context`). Text inputs still get their own keys
first: Qt offers a key to the focused widget (ShortcutOverride) before any shortcut, and line
and text edits claim Space, arrows, Home/End and letters.

Media files dropped on the canvas become elements of the scene under the playhead, starting at
the playhead (one undo step, probed off the GUI thread). The canvas's context menu has the
preview scale, loop points, Full Screen Preview, Safe Areas, Mute and Copy Frame; the timecode
takes a typed time; the mouse wheel steps frames.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import qtawesome
from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QPoint,
    QPointF,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPolygonF,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QSizePolicy,
    QToolBar,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.studio.audio_output import AudioOutput
from app.studio.document import ScriptDocument
from app.studio.media_elements import (
    DroppedMedia,
    add_elements,
    elements_for_files,
    is_script_file,
    local_files,
)
from app.studio.player import (
    SCALES,
    FpsMeter,
    MediaProblem,
    Player,
    fit_size,
    parse_timecode,
    timecode,
)
from app.studio.tasks import TaskRunner

SCALE_LABELS = {"auto": "Auto", "full": "Full", "1/2": "1/2", "1/4": "1/4"}
MEDIA_SUFFIXES = {
    # images
    ".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".avif",
    # video
    ".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".ogv",
    # audio
    ".mp3", ".wav", ".ogg", ".oga", ".flac", ".m4a", ".aac", ".opus", ".aif", ".aiff",
}  # fmt: skip


def _icon(name: str, widget: QWidget) -> QIcon:
    palette = widget.palette()
    icon: QIcon = qtawesome.icon(
        name,
        color=palette.color(QPalette.ColorRole.ButtonText),
        color_disabled=palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText),
    )
    return icon


def scene_at(data: Any, t: float) -> tuple[int, float] | None:
    """(scene index, time within it) at `t`, from the document's data (even while the script
    has errors); None when there are no scenes."""
    scenes = data.get("scenes") if isinstance(data, dict) else None
    if not isinstance(scenes, list) or not scenes:
        return None
    start = 0.0
    for index, scene in enumerate(scenes):
        duration = scene.get("duration") if isinstance(scene, dict) else None
        length = float(duration) if isinstance(duration, int | float) and duration > 0 else 0.0
        if t < start + length - 1e-9:
            return index, max(0.0, t - start)
        start += length
    return len(scenes) - 1, 0.0


class PreviewCanvas(QWidget):
    """Paints the player's latest frame letterboxed at the movie's aspect ratio; accepts drops."""

    files_dropped = Signal(list)
    painted_frame = Signal()
    double_clicked = Signal()

    def __init__(self, player: Player, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.player = player
        self._painted_serial = -1
        self.setAcceptDrops(True)
        self.setMinimumSize(160, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setBackgroundRole(QPalette.ColorRole.Dark)
        self.setAutoFillBackground(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._drop_hint = False
        self.safe_areas = False
        self.active = True  # frames are fitted to this canvas

    def frame_rect(self) -> QRectF:
        """Where the frame goes, in logical pixels (letterboxed, aligned to device pixels)."""
        movie = self.player.movie
        width, height = (movie.width, movie.height) if movie is not None else (16, 9)
        dpr = self.devicePixelRatioF()
        box = QSize(math.floor(self.width() * dpr), math.floor(self.height() * dpr))
        size = fit_size(QSize(width, height), box)
        x = (box.width() - size.width()) // 2
        y = (box.height() - size.height()) // 2
        return QRectF(x / dpr, y / dpr, size.width() / dpr, size.height() / dpr)

    def device_size(self) -> QSize:
        dpr = self.devicePixelRatioF()
        rect = self.frame_rect()
        return QSize(round(rect.width() * dpr), round(rect.height() * dpr))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Dark))
        target = self.frame_rect()
        image = self.player.display_image
        if image is not None and self.player.movie is not None:
            dpr = self.devicePixelRatioF()
            device = QSize(round(target.width() * dpr), round(target.height() * dpr))
            if image.size() == device:
                painter.drawImage(target.topLeft(), image)
            else:  # the worker has not caught up with a resize yet
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                painter.drawImage(target, image)
            if self.player.shown_serial != self._painted_serial:
                self._painted_serial = self.player.shown_serial
                self.painted_frame.emit()
        else:
            painter.fillRect(target, QColor(0, 0, 0))
            painter.setPen(QColor(200, 200, 200))
            text = (
                "Nothing to preview yet: fix the script's errors"
                if self.player.movie is None
                else "Loading…"
            )
            painter.drawText(target, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
        if self.safe_areas and self.player.movie is not None:
            self._paint_safe_areas(painter, target)
        if self._drop_hint:
            pen = QPen(palette.color(QPalette.ColorRole.Highlight), 3, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawRect(QRectF(self.rect()).adjusted(2, 2, -2, -2))
        painter.end()

    def _paint_safe_areas(self, painter: QPainter, frame: QRectF) -> None:
        """SMPTE ST 2046-1 guides: action safe (93 %), title safe (90 %) and the centre."""
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for colour, width in ((QColor(0, 0, 0, 120), 3.0), (QColor(255, 255, 255, 170), 1.0)):
            painter.setPen(QPen(colour, width))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            for keep in (0.93, 0.90):
                dx, dy = frame.width() * (1 - keep) / 2, frame.height() * (1 - keep) / 2
                painter.drawRect(frame.adjusted(dx, dy, -dx, -dy))
            centre = frame.center()
            arm = min(frame.width(), frame.height()) * 0.03
            painter.drawLine(
                QPointF(centre.x() - arm, centre.y()), QPointF(centre.x() + arm, centre.y())
            )
            painter.drawLine(
                QPointF(centre.x(), centre.y() - arm), QPointF(centre.x(), centre.y() + arm)
            )
        painter.restore()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.active:
            self.claim()

    def claim(self) -> None:
        """Make frames come fitted to this canvas (the dock's, or the full-screen one's)."""
        self.active = True
        self.player.set_target(self.device_size(), self.devicePixelRatioF())

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.double_clicked.emit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        """The wheel steps frames (one per notch; up = back), as in Shotcut's player."""
        notches = event.angleDelta().y() // 120
        if notches and self.player.movie is not None:
            self.player.step(-notches)
            event.accept()
        else:
            event.ignore()

    # ---- drops -------------------------------------------------------------------------------

    @staticmethod
    def media_files(paths: list[Path]) -> list[Path]:
        return [p for p in paths if not is_script_file(p) and p.suffix.lower() in MEDIA_SUFFIXES]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.media_files(local_files(event.mimeData())):
            event.acceptProposedAction()
            self._drop_hint = True
            self.update()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: Any) -> None:
        self._drop_hint = False
        self.update()

    def dropEvent(self, event: QDropEvent) -> None:
        self._drop_hint = False
        self.update()
        files = self.media_files(local_files(event.mimeData()))
        if not files:
            event.ignore()
            return
        event.acceptProposedAction()
        self.files_dropped.emit(files)


class FullScreenView(QWidget):
    """The preview alone on a whole screen (Esc or a double-click leaves it)."""

    closed = Signal()

    def __init__(self, player: Player, actions: list[QAction]) -> None:
        super().__init__(None, Qt.WindowType.Window)
        self.setWindowTitle("Preview")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.canvas = PreviewCanvas(player, self)
        self.canvas.active = False
        palette = self.canvas.palette()
        palette.setColor(QPalette.ColorRole.Dark, QColor(0, 0, 0))
        self.canvas.setPalette(palette)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.addActions(actions)  # the transport keys work here too
        leave = QAction("Leave Full Screen", self)
        leave.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        leave.triggered.connect(self.close)
        self.addAction(leave)
        self.canvas.double_clicked.connect(self.close)
        player.frame_changed.connect(self.canvas.update)

    def closeEvent(self, event: Any) -> None:
        self.closed.emit()
        super().closeEvent(event)


class ScrubBar(QWidget):
    """A frame-accurate scrubber: the playhead, the loop range and its in/out marks."""

    scrubbed = Signal(int)

    def __init__(self, player: Player, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.player = player
        self.setMinimumHeight(22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setMouseTracking(True)  # the time under the pointer, before clicking
        self.setAccessibleName("Playhead position")
        self.hover_text = ""

    def sizeHint(self) -> QSize:
        return QSize(300, 22)

    def _track(self) -> QRectF:
        return QRectF(8, 7, max(1, self.width() - 16), 8)

    def x_of(self, index: int) -> float:
        track = self._track()
        count = max(1, self.player.frame_count - 1)
        return track.left() + track.width() * min(max(index, 0), count) / count

    def index_at(self, x: float) -> int:
        track = self._track()
        count = self.player.frame_count - 1
        return round(min(max((x - track.left()) / track.width(), 0.0), 1.0) * count)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        track = self._track()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.Mid))
        painter.drawRoundedRect(track, 3, 3)
        index = self.player.current_index
        played = QRectF(track.left(), track.top(), self.x_of(index) - track.left(), track.height())
        highlight = palette.color(QPalette.ColorRole.Highlight)
        painter.setBrush(highlight)
        painter.drawRoundedRect(played, 3, 3)
        player = self.player
        if player.loop_in is not None or player.loop_out is not None:
            lo, hi = player.loop_range
            band = QRectF(
                self.x_of(lo), track.top() - 4, self.x_of(hi) - self.x_of(lo), track.height() + 8
            )
            colour = QColor(highlight)
            colour.setAlpha(90 if player.loop_enabled else 35)
            painter.setBrush(colour)
            painter.drawRect(band)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Text), 1.5))
            for mark, sign in ((player.loop_in, 1), (player.loop_out, -1)):
                if mark is None:
                    continue
                x = self.x_of(mark)
                painter.drawPolyline(
                    QPolygonF(
                        [
                            QPointF(x + 4 * sign, track.top() - 5),
                            QPointF(x, track.top() - 5),
                            QPointF(x, track.bottom() + 5),
                            QPointF(x + 4 * sign, track.bottom() + 5),
                        ]
                    )
                )
        x = self.x_of(index)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawEllipse(QPointF(x, track.center().y()), 6, 6)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.scrubbed.emit(self.index_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.index_at(event.position().x())
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.scrubbed.emit(index)
        self.hover_text = timecode(self.player.time_of(index), self.player.fps)
        QToolTip.showText(event.globalPosition().toPoint(), self.hover_text, self)

    def leaveEvent(self, event: QEvent) -> None:
        QToolTip.hideText()
        super().leaveEvent(event)


class PreviewPanel(QWidget):
    """The Preview dock (see the module docstring).

    `clock`, `audio`, `proxies` and `media_cache` go to the `Player` (tests inject a fast clock
    or no audio). Playback actions, with shortcuts: `play_action` (Space),
    `shuttle_reverse_action` (J), `shuttle_pause_action` (K), `shuttle_forward_action` (L),
    `previous_frame_action` (Left), `next_frame_action` (Right), `start_action` (Home),
    `end_action` (End), `loop_in_action` (I), `loop_out_action` (O), `loop_action` (Ctrl+L,
    checkable), `clear_loop_action` (Alt+X); `playback_actions` lists them in menu order.
    View actions without shortcuts (canvas context menu): `full_screen_action` (also a
    double-click on the picture), `safe_areas_action`, `mute_action`, `copy_frame_action`.
    `close_player()` stops the threads (also called on QApplication.aboutToQuit and when the
    panel is deleted).
    """

    def __init__(
        self,
        document: ScriptDocument,
        parent: QWidget | None = None,
        *,
        clock: Any = None,
        audio: AudioOutput | bool | None = True,
        proxies: Any = None,
        media_cache: Any = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.player = Player(
            document,
            clock=clock,
            audio=audio,
            proxies=proxies,
            media_cache=media_cache,
            parent=self,
        )
        self.meter = FpsMeter()
        self._tasks = TaskRunner(max_workers=1, name="preview-drop", parent=self)
        self.setObjectName("PreviewPanel")

        self.canvas = PreviewCanvas(self.player, self)
        self.setFocusProxy(self.canvas)  # focusing the dock focuses the canvas: transport keys
        self.scrub = ScrubBar(self.player, self)
        self.timecode_edit = QLineEdit(self)
        self.timecode_edit.setObjectName("timecode")
        mono = self.timecode_edit.font()
        mono.setFamily("monospace")
        mono.setStyleHint(mono.StyleHint.Monospace)
        self.timecode_edit.setFont(mono)
        self.timecode_edit.setFrame(False)
        self.timecode_edit.setStyleSheet(
            "QLineEdit { background: transparent; } QLineEdit:focus { background: palette(base); }"
        )
        self.timecode_edit.setFixedWidth(
            self.timecode_edit.fontMetrics().horizontalAdvance("00:00:00:00") + 8
        )
        self.timecode_edit.setToolTip(
            "Playhead (hours:minutes:seconds:frames). Click to type a time: 1:15 = 1 s 15 frames,"
            " +10 / -10 = ten frames on / back"
        )
        self.timecode_edit.setAccessibleName("Playhead timecode")
        self.timecode_edit.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.timecode_edit.returnPressed.connect(self._timecode_entered)
        self.timecode_edit.editingFinished.connect(self._timecode_left)
        self.duration_label = QLabel(self)
        self.duration_label.setFont(mono)
        self.duration_label.setToolTip("Duration of the movie")
        self.scale_combo = QComboBox(self)
        self.scale_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        for key in SCALES:
            self.scale_combo.addItem(SCALE_LABELS[key], key)
        self.scale_combo.setToolTip(
            "Preview resolution: Auto fits the canvas; lower is faster to play"
        )
        self.fps_label = QLabel("– fps", self)
        self.fps_label.setToolTip("Frames shown per second while playing")
        self.fps_label.setContentsMargins(6, 0, 2, 0)
        self.fps_label.setMinimumWidth(self.fps_label.fontMetrics().horizontalAdvance("00.0 fps"))
        self.rate_label = QLabel(self)
        self.audio_label = QLabel(self)
        self.audio_label.setObjectName("audioIndicator")
        self.problem_list = QListWidget(self)
        self.problem_list.setObjectName("mediaProblems")
        self.problem_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.problem_list.setVisible(False)
        self.problem_list.setWordWrap(True)
        self.problem_list.itemActivated.connect(self._problem_clicked)
        self.problem_list.itemClicked.connect(self._problem_clicked)
        self.message_label = QLabel(self)
        self.message_label.setWordWrap(True)
        self.message_label.setVisible(False)
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.setInterval(8000)
        self._message_timer.timeout.connect(lambda: self.message_label.setVisible(False))

        self._make_actions()
        self._buttons: dict[QAction, QToolButton] = {}
        controls = QHBoxLayout()
        controls.setContentsMargins(4, 0, 4, 0)
        controls.setSpacing(2)
        for action in (
            self.start_action,
            self.previous_frame_action,
            self.play_action,
            self.next_frame_action,
            self.end_action,
        ):
            controls.addWidget(self._button(action))
        controls.addSpacing(8)
        controls.addWidget(self.timecode_edit)
        controls.addWidget(self.duration_label)
        controls.addWidget(self.rate_label)
        controls.addStretch(1)
        # Loop, scale and readouts fold into a » menu when the dock is narrow.
        self.options_bar = QToolBar(self)
        self.options_bar.setObjectName("previewOptions")
        self.options_bar.setIconSize(QSize(20, 20))
        self.options_bar.setFloatable(False)
        self.options_bar.setMovable(False)
        self.options_bar.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.options_bar.setMinimumWidth(30)  # room for the » button
        self.options_bar.setStyleSheet("QToolBar { border: 0; background: transparent; }")
        for action in (self.loop_in_action, self.loop_out_action, self.loop_action):
            self.options_bar.addAction(action)
        self.options_bar.addSeparator()
        self.options_bar.addWidget(self.scale_combo)
        self.options_bar.addWidget(self.fps_label)
        self._mute_button_action = self.options_bar.addAction(self.mute_action)
        # A toolbar shows or hides its widgets through their actions.
        self._audio_label_action = self.options_bar.addWidget(self.audio_label)
        for button in self.options_bar.findChildren(QToolButton):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        controls.addWidget(self.options_bar)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.setSpacing(4)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.problem_list)
        layout.addWidget(self.message_label)
        layout.addWidget(self.scrub)
        layout.addLayout(controls)

        self.player.frame_changed.connect(self.canvas.update)
        self.player.state_changed.connect(self._sync)
        self.player.problems_changed.connect(self._show_problems)
        self.player.audio_changed.connect(self._show_audio)
        self.canvas.painted_frame.connect(self._frame_painted)
        self.canvas.files_dropped.connect(self.add_media)
        self.canvas.double_clicked.connect(self.full_screen_action.toggle)
        self.canvas.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.canvas.customContextMenuRequested.connect(self._canvas_menu)
        self.scrub.scrubbed.connect(self._scrubbed)
        self.scale_combo.currentIndexChanged.connect(
            lambda i: self.player.set_scale_mode(self.scale_combo.itemData(i))
        )
        document.playhead.time_changed.connect(self._time_changed)
        self._fps_timer = QTimer(self)
        self._fps_timer.setInterval(250)
        self._fps_timer.timeout.connect(self._show_fps)
        self._refresh_icons()
        self._show_audio(self.player.audio_state)
        self._sync()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.close_player)

    # ---- actions -----------------------------------------------------------------------------

    def _make_actions(self) -> None:
        def action(text: str, key: str, slot: Any, tip: str) -> QAction:
            act = QAction(text, self)
            act.setShortcut(QKeySequence(key))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.setToolTip(f"{tip} ({QKeySequence(key).toString()})")
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        player = self.player
        self.play_action = action("Play", "Space", player.toggle_play, "Play / pause")
        self.shuttle_reverse_action = action(
            "Shuttle Reverse", "J", player.shuttle_reverse, "Play backwards; again for faster"
        )
        self.shuttle_pause_action = action("Shuttle Pause", "K", player.pause, "Pause")
        self.shuttle_forward_action = action(
            "Shuttle Forward", "L", player.shuttle_forward, "Play forwards; again for faster"
        )
        self.previous_frame_action = action(
            "Previous Frame", "Left", lambda: player.step(-1), "Previous frame"
        )
        self.next_frame_action = action("Next Frame", "Right", lambda: player.step(1), "Next frame")
        self.start_action = action("Go to Start", "Home", player.go_to_start, "Go to start")
        self.end_action = action("Go to End", "End", player.go_to_end, "Go to end")
        self.loop_in_action = action(
            "Set Loop In", "I", lambda: player.set_loop_in(), "Set the loop's in point here"
        )
        self.loop_out_action = action(
            "Set Loop Out", "O", lambda: player.set_loop_out(), "Set the loop's out point here"
        )
        self.loop_action = QAction("Loop", self)
        self.loop_action.setCheckable(True)
        self.loop_action.setShortcut(QKeySequence("Ctrl+L"))
        self.loop_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.loop_action.setToolTip("Loop playback within the in/out range (Ctrl+L)")
        self.loop_action.toggled.connect(player.set_loop_enabled)
        self.addAction(self.loop_action)
        self.clear_loop_action = action(
            "Clear Loop Range", "Alt+X", player.clear_loop, "Clear the in and out points"
        )
        self.mute_action = QAction("Mute Preview", self)
        self.mute_action.setCheckable(True)
        self.mute_action.setToolTip("Mute the preview's sound")
        self.mute_action.toggled.connect(self._mute)
        self.full_screen_action = QAction("Full Screen Preview", self)
        self.full_screen_action.setCheckable(True)
        self.full_screen_action.setToolTip(
            "Show the preview on the whole screen (double-click the picture; Esc leaves)"
        )
        self.full_screen_action.toggled.connect(self._full_screen)
        self.full_screen_view: FullScreenView | None = None
        self.safe_areas_action = QAction("Safe Areas", self)
        self.safe_areas_action.setCheckable(True)
        self.safe_areas_action.setToolTip("Show the action-safe and title-safe guides")
        self.safe_areas_action.toggled.connect(self._show_safe_areas)
        self.copy_frame_action = QAction("Copy Frame", self)
        self.copy_frame_action.setToolTip("Copy the frame on screen (at the preview scale)")
        self.copy_frame_action.triggered.connect(self.copy_frame)
        self.playback_actions = [
            self.play_action,
            self.shuttle_reverse_action,
            self.shuttle_pause_action,
            self.shuttle_forward_action,
            self.previous_frame_action,
            self.next_frame_action,
            self.start_action,
            self.end_action,
            self.loop_in_action,
            self.loop_out_action,
            self.loop_action,
            self.clear_loop_action,
        ]

    def _full_screen(self, on: bool) -> None:
        view = self.full_screen_view
        if on and view is None:
            view = FullScreenView(self.player, self.playback_actions)
            view.canvas.painted_frame.connect(self._frame_painted)
            view.canvas.safe_areas = self.canvas.safe_areas
            view.closed.connect(self._full_screen_closed)
            self.full_screen_view = view
            self.canvas.active = False
            self.player.set_visible(True)
            screen = self.screen()
            if screen is not None:
                view.setGeometry(screen.geometry())
            view.showFullScreen()
            view.canvas.claim()
            view.activateWindow()
            view.canvas.setFocus()
        elif not on and view is not None:
            view.close()

    def _full_screen_closed(self) -> None:
        self.full_screen_view = None
        self.canvas.claim()
        self.player.set_visible(self.isVisible())
        self.full_screen_action.blockSignals(True)
        self.full_screen_action.setChecked(False)
        self.full_screen_action.blockSignals(False)
        self.canvas.update()

    def _show_safe_areas(self, shown: bool) -> None:
        self.canvas.safe_areas = shown
        self.canvas.update()
        if self.full_screen_view is not None:
            self.full_screen_view.canvas.safe_areas = shown
            self.full_screen_view.canvas.update()

    def _mute(self, muted: bool) -> None:
        if self.player.audio is not None:
            self.player.audio.set_muted(muted)
        self.mute_action.setIcon(_icon("mdi6.volume-off" if muted else "mdi6.volume-high", self))

    def copy_frame(self) -> None:
        image = self.player.image
        if image is not None:
            QApplication.clipboard().setImage(image)

    def _canvas_menu(self, position: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction(self.play_action)
        menu.addSeparator()
        scale_menu = menu.addMenu("Preview Scale")
        for key in SCALES:
            act = scale_menu.addAction(SCALE_LABELS[key])
            act.setCheckable(True)
            act.setChecked(self.player.scale_mode == key)
            act.triggered.connect(lambda _=False, key=key: self.set_scale_mode(key))
        menu.addActions([self.loop_in_action, self.loop_out_action, self.loop_action])
        menu.addAction(self.clear_loop_action)
        menu.addSeparator()
        menu.addAction(self.full_screen_action)
        menu.addAction(self.safe_areas_action)
        if self.mute_action.isVisible():
            menu.addAction(self.mute_action)
        menu.addAction(self.copy_frame_action)
        self.copy_frame_action.setEnabled(self.player.image is not None)
        menu.popup(self.canvas.mapToGlobal(position))

    def set_scale_mode(self, key: str) -> None:
        """ "auto", "full", "1/2" or "1/4" (the scale box follows)."""
        index = self.scale_combo.findData(key)
        if index >= 0:
            self.scale_combo.setCurrentIndex(index)

    def set_shortcut_context(self, context: Qt.ShortcutContext) -> None:
        """E.g. `Qt.WindowShortcut` when the window's Playback menu should work everywhere."""
        for act in self.playback_actions:
            act.setShortcutContext(context)

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton(self)
        button.setDefaultAction(action)
        button.setAutoRaise(True)
        button.setIconSize(QSize(20, 20))
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._buttons[action] = button
        return button

    def _refresh_icons(self) -> None:
        names = {
            self.start_action: "mdi6.skip-previous",
            self.previous_frame_action: "mdi6.step-backward",
            self.play_action: "mdi6.pause" if self.player.playing else "mdi6.play",
            self.next_frame_action: "mdi6.step-forward",
            self.end_action: "mdi6.skip-next",
            self.loop_in_action: "mdi6.contain-start",
            self.loop_out_action: "mdi6.contain-end",
            self.loop_action: "mdi6.repeat",
            self.shuttle_reverse_action: "mdi6.rewind",
            self.shuttle_forward_action: "mdi6.fast-forward",
            self.shuttle_pause_action: "mdi6.pause",
            self.mute_action: "mdi6.volume-off"
            if self.mute_action.isChecked()
            else "mdi6.volume-high",
        }
        for act, name in names.items():
            act.setIcon(_icon(name, self))

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.player.set_visible(True)

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        if self.full_screen_view is None:  # a closed dock renders nothing
            self.player.set_visible(False)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._refresh_icons()
            self._show_audio(self.player.audio_state)

    # ---- following the player ----------------------------------------------------------------

    def _sync(self) -> None:
        player = self.player
        playing = player.playing
        self.play_action.setText("Pause" if playing else "Play")
        self.play_action.setIcon(_icon("mdi6.pause" if playing else "mdi6.play", self))
        self.rate_label.setText("" if player.rate in (0, 1) else f"{player.rate:+d}×")
        self.loop_action.blockSignals(True)
        self.loop_action.setChecked(player.loop_enabled)
        self.loop_action.blockSignals(False)
        index = self.scale_combo.findData(player.scale_mode)
        if index >= 0 and index != self.scale_combo.currentIndex():
            self.scale_combo.blockSignals(True)
            self.scale_combo.setCurrentIndex(index)
            self.scale_combo.blockSignals(False)
        auto = f" (now {_fraction(player.scale)})" if player.scale_mode == "auto" else ""
        self.scale_combo.setToolTip(
            f"Preview resolution{auto}: Auto fits the canvas; lower is faster to play"
        )
        has_movie = player.movie is not None
        for act in self.playback_actions:
            act.setEnabled(has_movie)
        if playing and not self._fps_timer.isActive():
            self.meter.reset()
            self._fps_timer.start()
        elif not playing and self._fps_timer.isActive():
            self._fps_timer.stop()
            self.fps_label.setText("– fps")
        self._time_changed(self.document.playhead.time)
        self.canvas.update()

    def _time_changed(self, t: float) -> None:
        player = self.player
        fps = player.fps
        current = timecode(player.time_of(player.index_at(t)), fps)
        edit = self.timecode_edit
        if not (edit.hasFocus() and edit.isModified()):  # never under the user's typing
            edit.setText(current)
        self.duration_label.setText(f"/ {timecode(player.duration, fps)}")
        self.scrub.update()

    def timecode_text(self) -> str:
        """What the transport shows: `00:00:01:15 / 00:00:05:00`."""
        return f"{self.timecode_edit.text()} {self.duration_label.text()}"

    def _timecode_entered(self) -> None:
        player = self.player
        index = parse_timecode(self.timecode_edit.text(), player.fps, player.current_index)
        if index is not None and player.movie is not None:
            player.seek_index(index)
        self.canvas.setFocus()  # back to the transport keys

    def _timecode_left(self) -> None:
        self._time_changed(self.document.playhead.time)  # typed but not entered: show the time

    def _frame_painted(self) -> None:
        if self.player.playing:
            self.meter.frame_shown()

    def _show_fps(self) -> None:
        fps = self.meter.fps
        self.fps_label.setText(f"{fps:.1f} fps")
        self.fps_label.setToolTip(
            f"Frames shown per second (the movie has {self.player.fps:g}); "
            f"{self.player.dropped} dropped since play"
        )

    def _scrubbed(self, index: int) -> None:
        self.player.seek_index(index)

    def _show_problems(self, problems: list[MediaProblem]) -> None:
        self.problem_list.clear()
        for problem in problems:
            item = QListWidgetItem(_icon("mdi6.alert-circle-outline", self), problem.text())
            item.setData(Qt.ItemDataRole.UserRole, problem.element_path)
            item.setToolTip(problem.detail())
            self.problem_list.addItem(item)
        self.problem_list.setVisible(bool(problems))
        rows = min(len(problems), 3)
        if rows:
            height = self.problem_list.sizeHintForRow(0) * rows + 2 * self.problem_list.frameWidth()
            self.problem_list.setFixedHeight(height + 2)

    def _problem_clicked(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        if path:
            path = tuple(path)
            self.document.select(path, (*path, "src"))

    def _show_audio(self, state: str) -> None:
        if state in ("no-device", "failed"):
            self.audio_label.setPixmap(_icon("mdi6.volume-off", self).pixmap(QSize(16, 16)))
            self.audio_label.setToolTip(
                "No audio output: playing silently"
                if state == "no-device"
                else "The audio output stopped: playing silently"
            )
            self.audio_label.setAccessibleName("no audio output")
            self._audio_label_action.setVisible(True)
            self.mute_action.setVisible(False)
        else:
            self._audio_label_action.setVisible(False)
            self.mute_action.setVisible(True)

    # ---- drops -------------------------------------------------------------------------------

    def add_media(self, files: list[Path]) -> None:
        """Probe `files` off the GUI thread, then add them to the scene under the playhead."""
        t = self.document.playhead.time
        base = self.document.base_dir
        self._tasks.run(
            elements_for_files, files, base, done=lambda r, e: self._media_probed(t, r, e)
        )

    def _media_probed(self, t: float, result: DroppedMedia | None, error: Any) -> None:
        if error is not None or result is None:
            self._say(f"Cannot add the files: {error}")
            return
        if result.errors:
            self._say(result.message())
        where = scene_at(self.document.data, t)
        if where is None or not result.elements:
            if where is None:
                self._say("The script has no scene to add media to")
            return
        scene, offset = where
        duration = self.document.value(("scenes", scene, "duration"))
        offset = round(offset, 3)
        if isinstance(duration, int | float) and offset >= duration:
            offset = 0.0  # the playhead sits on the scene's very end: start with the scene
        elements = [dict(e, start=offset) if offset > 0 else e for e in result.elements]
        if not add_elements(self.document, scene, elements):
            self._say(f"Scene {scene + 1} has no element list to add media to")

    def _say(self, message: str) -> None:
        self.message_label.setText(message)
        self.message_label.setVisible(True)
        self._message_timer.start()

    # ---- lifetime ----------------------------------------------------------------------------

    def closeEvent(self, event: Any) -> None:
        self.close_player()
        super().closeEvent(event)

    def close_player(self) -> None:
        """Stop playback, the frame worker and the sound (the window calls it on close)."""
        if self.full_screen_view is not None:
            self.full_screen_view.close()
        self._fps_timer.stop()
        self._tasks.shutdown()
        self.player.close()


def _fraction(scale: float) -> str:
    if scale >= 1:
        return "full"
    for denominator in (2, 4, 8):
        numerator = scale * denominator
        if abs(numerator - round(numerator)) < 1e-6:
            return f"{round(numerator)}/{denominator}"
    return f"{scale:g}"
