"""The studio's main window: docks around one `ScriptDocument`, menus, files, autosave.

The window owns the document, the file commands (New, Open, Save, recent files, drag and drop),
the recovery copies (`recovery.Autosaver`) and the layout of the docks. The panels are built
from `PANELS` with `Panel(document)`; each one follows the document and never another panel.
A panel module that is not there yet simply has no dock (the studio grows as panels land).
The status bar keeps a place for the local service (and later the account bar and jobs).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import qtawesome
from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QFileSystemWatcher,
    QObject,
    QSettings,
    QStandardPaths,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QColor,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QIcon,
    QKeySequence,
    QPalette,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStyleFactory,
    QToolButton,
    QWidget,
)

from app.studio.document import ScriptDocument, dumps
from app.studio.files import FileError, RecentFiles, atomic_write, example_script, read_text
from app.studio.recovery import Autosaver, RecoveryCopy, RecoveryDialog, RecoveryStore
from app.studio.settings import autosave_seconds, studio_settings
from app.studio.tasks import TaskRunner

log = logging.getLogger(__name__)

APP_TITLE = "Reelsmith"
#: Bump when the dock set or their meaning changes: older saved layouts are then ignored.
LAYOUT_VERSION = 2  # 2: Preview beside Scenes in the left area
WELCOME_EXAMPLE = "slideshow"


@dataclass(frozen=True)
class PanelSpec:
    """One dock: which panel class builds it, where it goes by default, how it is shown."""

    key: str
    title: str
    module: str
    class_name: str
    icon: str
    toggle_shortcut: str


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec(
        "scenes", "Scenes", "app.studio.scenes_panel", "ScenesPanel", "mdi6.filmstrip", "Alt+1"
    ),
    PanelSpec(
        "preview",
        "Preview",
        "app.studio.preview_panel",
        "PreviewPanel",
        "mdi6.play-box-outline",
        "Alt+2",
    ),
    PanelSpec(
        "inspector",
        "Inspector",
        "app.studio.inspector",
        "InspectorPanel",
        "mdi6.tune-variant",
        "Alt+3",
    ),
    PanelSpec(
        "variables",
        "Variables",
        "app.studio.variables_panel",
        "VariablesPanel",
        "mdi6.code-braces",
        "Alt+4",
    ),
    PanelSpec(
        "script", "Script", "app.studio.json_editor", "ScriptEditorPanel", "mdi6.code-json", "Alt+5"
    ),
    PanelSpec(
        "problems",
        "Problems",
        "app.studio.problems_panel",
        "ProblemsPanel",
        "mdi6.alert-circle-outline",
        "Alt+6",
    ),
    PanelSpec(
        "timeline",
        "Timeline",
        "app.studio.timeline_panel",
        "TimelinePanel",
        "mdi6.chart-timeline",
        "Alt+7",
    ),
)


def load_panel_class(spec: PanelSpec) -> Callable[[ScriptDocument], QWidget] | None:
    """The panel's class, or None while its module does not exist yet (errors inside an
    existing module are real errors and propagate)."""
    try:
        module = importlib.import_module(spec.module)
    except ModuleNotFoundError as exc:
        if exc.name == spec.module:
            return None
        raise
    panel_class = getattr(module, spec.class_name, None)
    return (
        panel_class if isinstance(panel_class, type) and issubclass(panel_class, QWidget) else None
    )


def icon(name: str) -> QIcon:
    """A Material Design icon in the palette's text colour (readable in light and dark)."""
    result: QIcon = qtawesome.icon(name)
    return result


def blank_script() -> dict[str, Any]:
    return {
        "width": 1920,
        "height": 1080,
        "fps": 30,
        "scenes": [{"name": "Scene 1", "duration": 5, "background": "#101820", "elements": []}],
    }


# --------------------------------------------------------------------------------- appearance

APPEARANCES = ("system", "light", "dark")


def dark_palette() -> QPalette:
    """A neutral dark palette for the Fusion style (readable, not pitch black)."""
    p = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2b2d30",
        QPalette.ColorRole.WindowText: "#dfe1e5",
        QPalette.ColorRole.Base: "#1e1f22",
        QPalette.ColorRole.AlternateBase: "#26282b",
        QPalette.ColorRole.ToolTipBase: "#393b40",
        QPalette.ColorRole.ToolTipText: "#dfe1e5",
        QPalette.ColorRole.PlaceholderText: "#8c8f94",
        QPalette.ColorRole.Text: "#dfe1e5",
        QPalette.ColorRole.Button: "#393b40",
        QPalette.ColorRole.ButtonText: "#dfe1e5",
        QPalette.ColorRole.BrightText: "#ff6b68",
        QPalette.ColorRole.Light: "#4e5157",
        QPalette.ColorRole.Midlight: "#43454a",
        QPalette.ColorRole.Mid: "#313335",
        QPalette.ColorRole.Dark: "#1b1c1f",
        QPalette.ColorRole.Shadow: "#0d0d0f",
        QPalette.ColorRole.Highlight: "#2f65ca",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6ea6ff",
        QPalette.ColorRole.LinkVisited: "#b28bf0",
    }
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    disabled = QPalette.ColorGroup.Disabled
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        p.setColor(disabled, role, QColor("#6f737a"))
    p.setColor(disabled, QPalette.ColorRole.Highlight, QColor("#3d3f43"))
    return p


def apply_appearance(app: QApplication, mode: str) -> None:
    """ "system" keeps the platform's style and palette; "light"/"dark" use Fusion with an
    explicit palette (the same on every platform, and what the screenshots show)."""
    hints = app.styleHints()
    if mode not in APPEARANCES:
        mode = "system"
    scheme = {
        "light": Qt.ColorScheme.Light,
        "dark": Qt.ColorScheme.Dark,
        "system": Qt.ColorScheme.Unknown,
    }[mode]
    if hasattr(hints, "setColorScheme"):  # Qt >= 6.8
        hints.setColorScheme(scheme)
    if mode == "system":
        app.setPalette(QPalette())
        return
    style = QStyleFactory.create("Fusion")
    if style is not None:
        app.setStyle(style)
    app.setPalette(dark_palette() if mode == "dark" else app.style().standardPalette())
    qtawesome.reset_cache()


# --------------------------------------------------------------------------------- the window


class MainWindow(QMainWindow):
    """See the module docstring."""

    #: Emitted once the window has accepted its close (after saving or discarding).
    closed = Signal()
    #: Emitted once, after the window's first paint (start-up work waits for it).
    first_painted = Signal()

    def __init__(
        self,
        document: ScriptDocument | None = None,
        *,
        settings: QSettings | None = None,
        recovery: RecoveryStore | None = None,
        autosave_interval: float | None = None,
        panels: tuple[PanelSpec, ...] = PANELS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self.settings = settings or studio_settings()
        self._owns_document = document is None
        self.document = document or ScriptDocument(parent=self)
        self.recent = RecentFiles(self.settings)
        self.recovery = recovery or RecoveryStore()
        interval = autosave_interval or autosave_seconds(self.settings)
        self.autosaver = Autosaver(
            self.document,
            self.recovery,
            interval=interval,
            display_name=lambda: self.title_name,
            parent=self,
        )
        self.autosaver.status.connect(self.show_message)
        self._tasks = TaskRunner(max_workers=1, name="reelsmith-window", parent=self)
        self._untitled_name: str | None = None
        self._media_generator: _MediaGenerator | None = None
        self._closing_accepted = False
        self._keep_recovery = False
        self._painted = False
        self._closed = False
        self.sample_media_ready: bool | None = None

        self.setDockNestingEnabled(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowNestedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.GroupedDragging
        )
        self.setCorner(Qt.Corner.TopLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
        # The right column (Inspector over Script) runs the full height: both need lines more
        # than the timeline needs the last few hundred pixels of width.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setWindowIcon(icon("mdi6.movie-open-outline"))

        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        #: Panels that failed to build: the studio opens without them (the reason is logged).
        self.failed_panels: dict[str, str] = {}
        self.dock_titles = {spec.key: spec.title for spec in panels}
        self._pending_boxes: list[tuple[str, str, str]] = []
        for spec in panels:
            try:
                panel_class = load_panel_class(spec)
                if panel_class is not None:
                    self._add_dock(spec, panel_class(self.document))
            except Exception as exc:  # one broken panel must not keep the studio closed
                log.exception("the %s panel could not be built", spec.title)
                self.failed_panels[spec.key] = f"{type(exc).__name__}: {exc}"

        self._build_actions()
        self._build_menus()
        self._build_status_bar()
        self._integrate_panels()
        self.apply_default_layout()
        self._restore_layout()

        self.document.file_changed.connect(self._update_title)
        # Another program changing the open file: reload it as an undoable step.
        self._disk_text: str | None = None
        self._disk_check = QTimer(self)
        self._disk_check.setSingleShot(True)
        self._disk_check.setInterval(250)  # editors write in several steps
        self._disk_check.timeout.connect(self._check_disk)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(lambda _path: self._disk_check.start())
        self.document.validated.connect(self._update_problem_count)
        self.document.undo_stack.cleanChanged.connect(self._update_title)
        self._update_title()

        self.setAcceptDrops(True)
        app = QApplication.instance()
        if app is not None:
            # Drops of a .json anywhere in the window (even on the JSON editor, which would
            # otherwise paste the file name) open the file.
            app.installEventFilter(self)

    # ----------------------------------------------------------------------------- docks

    def _add_dock(self, spec: PanelSpec, panel: QWidget) -> None:
        dock = QDockWidget(spec.title, self)
        dock.setObjectName(f"dock-{spec.key}")
        dock.setWidget(panel)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        toggle = dock.toggleViewAction()
        toggle.setText(spec.title)
        toggle.setIcon(icon(spec.icon))
        toggle.setShortcut(QKeySequence(spec.toggle_shortcut))
        self.panels[spec.key] = panel
        self.docks[spec.key] = dock
        message = getattr(panel, "message", None)
        if message is not None and hasattr(message, "connect"):
            message.connect(self.show_message)

    def apply_default_layout(self) -> None:
        """Scenes left, Preview in the middle, Inspector (with Variables) right, Script and
        Problems tabbed under it, Timeline under Scenes and Preview; sized for the window."""
        docks = self.docks
        for dock in docks.values():
            dock.setFloating(False)
            self.removeDockWidget(dock)
        area = Qt.DockWidgetArea

        def place(key: str, where: Qt.DockWidgetArea) -> QDockWidget | None:
            dock = docks.get(key)
            if dock is not None:
                self.addDockWidget(where, dock)
                dock.show()
            return dock

        # Scenes and Preview side by side in the left area (not Preview in the top area over
        # an empty centre: Qt's dock layout then crept the separator on every relayout).
        scenes = place("scenes", area.LeftDockWidgetArea)
        preview = docks.get("preview")
        if preview is not None:
            if scenes is not None:
                self.splitDockWidget(scenes, preview, Qt.Orientation.Horizontal)
            else:
                self.addDockWidget(area.LeftDockWidgetArea, preview)
            preview.show()
        inspector = place("inspector", area.RightDockWidgetArea)
        script, problems, variables = (
            docks.get("script"),
            docks.get("problems"),
            docks.get("variables"),
        )
        code = script or problems
        if code is not None:
            self.addDockWidget(area.RightDockWidgetArea, code)
            if inspector is not None:
                # Split before tabbing: a dock that is already a tab cannot be split.
                self.splitDockWidget(inspector, code, Qt.Orientation.Vertical)
            code.show()
            if script is not None and problems is not None:
                self.tabifyDockWidget(script, problems)
                problems.show()
                script.raise_()
        if variables is not None:
            if inspector is not None:
                self.tabifyDockWidget(inspector, variables)
                variables.show()
                inspector.raise_()
            else:
                place("variables", area.RightDockWidgetArea)
        place("timeline", area.BottomDockWidgetArea)
        self._size_default_docks()

    def _size_default_docks(self) -> None:
        """Proportions that suit 1440×900 and 1920×1080 alike: the preview gets the most."""
        width = max(self.width(), 1024)
        height = max(self.height(), 640)
        docks = self.docks
        horizontal = [
            (docks.get("scenes"), 0.19),
            (docks.get("preview"), 0.51),
            (docks.get("inspector") or docks.get("script"), 0.30),
        ]
        present = [(d, f) for d, f in horizontal if d is not None]
        if present:
            self.resizeDocks(
                [d for d, _ in present],
                [int(width * f) for _, f in present],
                Qt.Orientation.Horizontal,
            )
        vertical = [
            (docks.get("preview") or docks.get("scenes"), 0.66),
            (docks.get("timeline"), 0.26),
        ]
        present = [(d, f) for d, f in vertical if d is not None]
        if present:
            self.resizeDocks(
                [d for d, _ in present],
                [int(height * f) for _, f in present],
                Qt.Orientation.Vertical,
            )
        right = [
            (docks.get("inspector"), 0.48),
            (docks.get("script") or docks.get("problems"), 0.52),
        ]
        present = [(d, f) for d, f in right if d is not None]
        if len(present) == 2:
            column = height - 60
            self.resizeDocks(
                [d for d, _ in present],
                [int(column * f) for _, f in present],
                Qt.Orientation.Vertical,
            )

    def reset_layout(self) -> None:
        self.apply_default_layout()
        self.settings.remove("window/state")
        self.show_message("Layout reset")

    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if not (isinstance(geometry, QByteArray | bytes) and self.restoreGeometry(geometry)):
            self._default_geometry()  # first start, or a stored geometry Qt cannot use
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray | bytes):
            try:
                version = int(self.settings.value("window/layout_version", 0))  # type: ignore[call-overload]
            except (TypeError, ValueError):
                version = 0
            if version == LAYOUT_VERSION and not self.restoreState(state, LAYOUT_VERSION):
                log.info("saved layout not restored; using the default layout")

    def _default_geometry(self) -> None:
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(1440, 900)
            return
        available = screen.availableGeometry()
        width = min(available.width(), max(1024, int(available.width() * 0.92)))
        height = min(available.height(), max(640, int(available.height() * 0.92)))
        self.resize(width, height)
        frame = self.frameGeometry()
        frame.moveCenter(available.center())
        self.move(frame.topLeft())

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.setValue("window/layout_version", LAYOUT_VERSION)
        self.settings.sync()

    def showEvent(self, event: Any) -> None:
        first = not getattr(self, "_shown_once", False)
        self._shown_once = True
        super().showEvent(event)
        if first and self._pending_boxes:
            QTimer.singleShot(0, self._show_pending_boxes)
        if first and self.failed_panels:
            names = ", ".join(self.dock_titles.get(key, key) for key in self.failed_panels)
            self.show_message(f"Could not open: {names} (details in the log)", 0)
        if first and self.settings.value("window/state") is None:
            # The default sizes depend on the real window size, known only now.
            QTimer.singleShot(0, self._resize_for_first_show)

    def _show_pending_boxes(self) -> None:
        pending, self._pending_boxes = self._pending_boxes, []
        for title, text, informative in pending:
            self.error_box(title, text, informative)

    def _resize_for_first_show(self) -> None:
        self._size_default_docks()

    # ----------------------------------------------------------------------------- actions

    def _action(
        self,
        text: str,
        slot: Callable[[], Any],
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        glyph: str | None = None,
        tip: str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if glyph:
            action.setIcon(icon(glyph))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        key = QKeySequence.StandardKey
        self.new_action = self._action(
            "&New", self.new_blank, key.New, "mdi6.file-outline", "A new, blank movie script"
        )
        self.open_action = self._action(
            "&Open…", self.open_dialog, key.Open, "mdi6.folder-open-outline", "Open a movie script"
        )
        self.save_action = self._action(
            "&Save", self.save, key.Save, "mdi6.content-save-outline", "Save the movie script"
        )
        self.save_as_action = self._action(
            "Save &As…",
            self.save_as,
            QKeySequence("Ctrl+Shift+S"),
            "mdi6.content-save-edit-outline",
            "Save the movie script under a new name",
        )
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q", "mdi6.exit-to-app")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        stack = self.document.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence(key.Undo))
        self.undo_action.setIcon(icon("mdi6.undo"))
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.setIcon(icon("mdi6.redo"))
        self.addAction(self.undo_action)
        self.addAction(self.redo_action)

        self.reset_layout_action = self._action(
            "&Reset Layout", self.reset_layout, None, "mdi6.view-dashboard-outline"
        )
        self.full_screen_action = self._action(
            "&Full Screen", self._toggle_full_screen, key.FullScreen, "mdi6.fullscreen"
        )
        self.full_screen_action.setCheckable(True)
        self.appearance_group = QActionGroup(self)
        self.appearance_actions: dict[str, QAction] = {}
        current = str(self.settings.value("view/appearance", "system"))
        for mode, label in (("system", "&System"), ("light", "&Light"), ("dark", "&Dark")):
            action = QAction(label, self)
            action.setCheckable(True)
            action.setChecked(mode == current)
            action.triggered.connect(lambda _c=False, m=mode: self.set_appearance(m))
            self.appearance_group.addAction(action)
            self.appearance_actions[mode] = action

        self.open_logs_action = self._action(
            "Open &Logs Folder", lambda: self._open_folder("logs"), None, "mdi6.text-box-outline"
        )
        self.open_recovery_action = self._action(
            "Open &Recovery Folder",
            lambda: self._open_folder("recovery"),
            None,
            "mdi6.backup-restore",
        )
        self.about_action = self._action("&About Reelsmith", self.about, None, "mdi6.information")
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.new_action)
        self.examples_menu = file_menu.addMenu(icon("mdi6.book-open-outline"), "New from &Example")
        for title, path in example_scripts():
            action = self.examples_menu.addAction(title)
            action.triggered.connect(lambda _c=False, p=path: self.new_from_example(p))
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu(icon("mdi6.history"), "Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        self.file_menu = file_menu

        self.edit_menu = bar.addMenu("&Edit")
        self.edit_menu.addAction(self.undo_action)
        self.edit_menu.addAction(self.redo_action)

        self.view_menu = bar.addMenu("&View")
        for spec in PANELS:
            dock = self.docks.get(spec.key)
            if dock is not None:
                self.view_menu.addAction(dock.toggleViewAction())
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.reset_layout_action)
        self.view_menu.addAction(self.full_screen_action)
        appearance = self.view_menu.addMenu(icon("mdi6.theme-light-dark"), "&Appearance")
        for action in self.appearance_actions.values():
            appearance.addAction(action)

        self.playback_menu = bar.addMenu("&Playback")
        self.playback_menu.menuAction().setVisible(False)  # until the preview brings actions

        self.help_menu = bar.addMenu("&Help")
        self.help_menu.addAction(self.open_logs_action)
        self.help_menu.addAction(self.open_recovery_action)
        self.help_menu.addSeparator()
        self.help_menu.addAction(self.about_action)

    def _integrate_panels(self) -> None:
        """Bring the panels' own actions into the menus (shortcuts shown there)."""
        preview = self.panels.get("preview")
        if preview is not None:
            names = (
                "play_action",
                None,
                "shuttle_reverse_action",
                "shuttle_pause_action",
                "shuttle_forward_action",
                None,
                "previous_frame_action",
                "next_frame_action",
                "start_action",
                "end_action",
                None,
                "loop_in_action",
                "loop_out_action",
                "loop_action",
                "clear_loop_action",
            )
            added = self._add_panel_actions(self.playback_menu, preview, names)
            if added:
                set_context = getattr(preview, "set_shortcut_context", None)
                if callable(set_context):
                    # Window-wide: Space plays from the timeline or the scene list too. Text
                    # inputs still get their keys (Qt lets a focused editor claim them first).
                    set_context(Qt.ShortcutContext.WindowShortcut)
                self.playback_menu.menuAction().setVisible(True)
            self._add_panel_actions(
                self.playback_menu, preview, (None, "mute_action", "copy_frame_action")
            )
        scenes = self.panels.get("scenes")
        if scenes is not None:
            self.edit_menu.addSeparator()
            added = self._add_panel_actions(
                self.edit_menu,
                scenes,
                (
                    "add_action",
                    "duplicate_action",
                    "rename_action",
                    "delete_action",
                    None,
                    "move_up_action",
                    "move_down_action",
                ),
            )
            for name in ("add_action", "duplicate_action"):
                action = getattr(scenes, name, None)
                if isinstance(action, QAction):
                    # Ctrl+D and Ctrl+Shift+N work wherever the focus is (no text input
                    # claims them); Delete stays with the focused panel (scene or element).
                    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        timeline = self.panels.get("timeline")
        if timeline is not None:
            self.edit_menu.addSeparator()
            self._add_panel_actions(
                self.edit_menu,
                timeline,
                ("delete_action", "nudge_left_action", "nudge_right_action"),
            )
            self.timeline_menu = self.view_menu.addMenu(icon("mdi6.chart-timeline"), "&Timeline")
            self._add_panel_actions(
                self.timeline_menu,
                timeline,
                ("zoom_in_action", "zoom_out_action", "zoom_fit_action", None, "snap_action"),
            )
        script = self.panels.get("script")
        if script is not None:
            self.edit_menu.addSeparator()
            self._add_panel_actions(
                self.edit_menu,
                script,
                (
                    "find_action",
                    "find_next_action",
                    "find_previous_action",
                    "go_to_line_action",
                    None,
                    "format_action",
                    None,
                    "next_problem_action",
                    "previous_problem_action",
                ),
            )

    def _add_panel_actions(
        self, menu: QMenu, panel: QWidget, names: tuple[str | None, ...]
    ) -> list[QAction]:
        added: list[QAction] = []
        pending_separator = False
        for name in names:
            if name is None:
                pending_separator = bool(added or menu.actions())
                continue
            action = getattr(panel, name, None)
            if isinstance(action, QAction):
                if pending_separator:
                    menu.addSeparator()
                    pending_separator = False
                menu.addAction(action)
                added.append(action)
        return added

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        paths = self.recent.paths()
        for index, path in enumerate(paths):
            label = f"&{index + 1} {path.name}" if index < 9 else path.name
            action = menu.addAction(label)
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _c=False, p=path: self.open_path(p))
        if not paths:
            empty = menu.addAction("No recent files")
            empty.setEnabled(False)
        menu.addSeparator()
        clear = menu.addAction("Clear Recent Files")
        clear.setEnabled(bool(paths))
        clear.triggered.connect(self._clear_recent)

    def _clear_recent(self) -> None:
        self.recent.clear()
        self._fill_recent_menu()

    # ----------------------------------------------------------------------------- status bar

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.problem_label = QToolButton()
        self.problem_label.setAutoRaise(True)
        self.problem_label.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.problem_label.setToolTip("Show the Problems panel")
        self.problem_label.clicked.connect(lambda: self._raise_dock("problems"))
        self.service_label = QLabel("Local service: starting…")
        self.service_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.service_label.setObjectName("service-status")
        bar.addPermanentWidget(self.problem_label)
        bar.addPermanentWidget(self.service_label)

    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def set_service_status(self, text: str, tooltip: str = "", ok: bool = True) -> None:
        """The local service's place in the status bar (URL, or why it is not running)."""
        self.service_label.setText(text)
        self.service_label.setToolTip(tooltip or text)
        colour = "" if ok else "color: palette(bright-text);"
        self.service_label.setStyleSheet(colour)

    def _update_problem_count(self, validation: Any = None) -> None:
        validation = validation or self.document.validation
        if validation is None:
            return
        problems = validation.problems
        errors = sum(1 for p in problems if p.is_error)
        warnings = len(problems) - errors
        if not problems:
            self.problem_label.setIcon(icon("mdi6.check-circle-outline"))
            self.problem_label.setText("No problems")
            return
        parts = []
        if errors:
            parts.append(f"{errors} error{'s' * (errors != 1)}")
        if warnings:
            parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
        glyph = "mdi6.close-circle-outline" if errors else "mdi6.alert-outline"
        self.problem_label.setIcon(icon(glyph))
        self.problem_label.setText(" · ".join(parts))

    def _raise_dock(self, key: str) -> None:
        dock = self.docks.get(key)
        if dock is not None:
            dock.show()
            dock.raise_()

    # ----------------------------------------------------------------------------- title

    @property
    def title_name(self) -> str:
        if self.document.file_path is not None:
            return self.document.display_name
        return self._untitled_name or "Untitled"

    def _update_title(self, *_: object) -> None:
        self.setWindowTitle(f"{self.title_name}[*] — {APP_TITLE}")
        self.setWindowModified(self.document.is_modified)
        path = self.document.file_path
        self.setWindowFilePath(str(path) if path else "")

    # ----------------------------------------------------------------------------- files

    def maybe_save(self, action: str = "closing") -> bool:
        """Ask what to do with unsaved changes: True to go on (saved or discarded)."""
        if not self.document.is_modified:
            return True
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(APP_TITLE)
        box.setText(f"Save the changes to “{self.title_name}” before {action}?")
        box.setInformativeText("If you don't save, your changes will be lost.")
        box.setStandardButtons(
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        box.setEscapeButton(QMessageBox.StandardButton.Cancel)
        choice = box.exec()
        if choice == QMessageBox.StandardButton.Save:
            return self.save()
        return choice == QMessageBox.StandardButton.Discard

    def error_box(self, title: str, text: str, informative: str = "") -> None:
        """A warning the user must read; before the window is shown it waits for the show."""
        if not self.isVisible():
            self._pending_boxes.append((title, text, informative))
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(title)
        box.setText(text)
        if informative:
            box.setInformativeText(informative)
        box.exec()

    def new_blank(self) -> bool:
        if not self.maybe_save("starting a new script"):
            return False
        self._untitled_name = None
        self.document.load(dumps(blank_script()), None)
        self._watch(None, None)
        self.document.set_variables({})
        self.show_message("New movie script")
        return True

    def new_from_example(self, script: Path, *, prepare_media: bool = True) -> bool:
        """A new, untitled script with an example's content (media paths made absolute)."""
        if not self.maybe_save("opening the example"):
            return False
        from app.examples import default_examples_dir

        media = default_examples_dir() / "media"
        try:
            text, variables = example_script(script, media.parent)
        except (OSError, ValueError) as exc:
            self.error_box(APP_TITLE, f"Could not open the example “{script.name}”: {exc}")
            return False
        self._untitled_name = f"{_title_of(script)} (example)"
        self.document.load(text, None)
        self._watch(None, None)
        self.document.set_variables(variables)
        if prepare_media:
            self.ensure_sample_media(media)
        return True

    def ensure_sample_media(self, media: Path) -> None:
        """Generate the examples' sample media once, in another process (about 20 s of CPU the
        first time), then re-check the script so its media problems clear."""
        if self.sample_media_ready is not None:
            return
        wanted = ("music.wav", "photo-1.jpg", "photo-2.jpg", "photo-3.jpg", "logo.png", "clip.mp4")
        if all((media / name).is_file() for name in wanted):
            self.sample_media_ready = True
            return
        self.sample_media_ready = False
        self.show_message("Preparing the sample media for the examples (first start only)…", 0)
        self._media_generator = _MediaGenerator(media)
        self._tasks.run(self._media_generator.run, done=self._media_done)

    def _media_done(self, _result: object, error: BaseException | None) -> None:
        if self._closing_accepted:
            return
        if error is not None:
            log.error("sample media not generated: %s", error)
            self.sample_media_ready = None
            self.show_message(f"The sample media could not be generated: {error}", 0)
            return
        self.sample_media_ready = True
        self.show_message("Sample media ready")
        self.document.validate_now()

    def open_dialog(self) -> None:
        start = str(self._dialog_folder())
        name, _ = QFileDialog.getOpenFileName(
            self, "Open Movie Script", start, "Movie scripts (*.json);;All files (*)"
        )
        if name:
            self.open_path(Path(name))

    def open_path(self, path: Path) -> bool:
        """Open a script file (asking first about unsaved changes)."""
        if not self.maybe_save("opening another file"):
            return False
        return self.load_path(path)

    def load_path(self, path: Path, *, create_missing: bool = False) -> bool:
        """Load `path` into the document without asking. A text that is not JSON opens anyway
        (the JSON editor shows where it breaks). A missing file with `create_missing` opens as
        a new script that Save will create there."""
        path = path.expanduser().absolute()
        try:
            opened = read_text(path)
        except FileError as exc:
            if create_missing and not path.exists() and path.parent.is_dir():
                self._untitled_name = None
                self.document.load(dumps(blank_script()), path)
                self._watch(None, None)
                self.show_message(f"{path.name} does not exist yet: Save creates it.", 0)
                return True
            self.error_box("Cannot open the file", str(exc))
            return False
        self._untitled_name = None
        self.document.load(opened.text, path)
        self._watch(path, opened.text)
        self.document.set_variables({})
        self.recent.add(path)
        if opened.warning:
            self.error_box("Opened with replacements", opened.warning)
        error = self.document.parse_error
        if error is not None:
            self.show_message(
                f"{path.name} is not valid JSON yet: {error.message} "
                f"(line {error.line}, column {error.column})",
                0,
            )
        else:
            self.show_message(f"Opened {path}")
        return True

    def save(self) -> bool:
        path = self.document.file_path
        if path is None:
            return self.save_as()
        return self._write(path)

    def save_as(self, path: Path | None = None) -> bool:
        if path is None:
            suggested = self._dialog_folder() / f"{_file_stem(self.title_name)}.json"
            name, _ = QFileDialog.getSaveFileName(
                self, "Save Movie Script As", str(suggested), "Movie scripts (*.json)"
            )
            if not name:
                return False
            path = Path(name)
            if not path.suffix:
                path = path.with_suffix(".json")
        return self._write(path.expanduser().absolute())

    def _write(self, path: Path) -> bool:
        try:
            atomic_write(path, self.document.text)
        except FileError as exc:
            log.warning("save failed: %s", exc)
            self.error_box(
                "Save failed",
                str(exc),
                "The file on disk was not changed, and your edits are still open here "
                "(a recovery copy keeps them too). Try Save As to save somewhere else.",
            )
            try:
                self.autosaver.write_now()
            except Exception as error:
                log.warning("recovery copy not written: %s", error)
            return False
        self._untitled_name = None
        self.document.mark_saved(path)
        self._watch(path, self.document.text)
        self.recent.add(path)
        self.show_message(f"Saved {path}")
        return True

    def _watch(self, path: Path | None, disk_text: str | None) -> None:
        """Follow `path` for changes by other programs; `disk_text` is what it holds now."""
        self._disk_text = disk_text
        watched = self._watcher.files()
        if watched:
            self._watcher.removePaths(watched)
        if path is not None and path.is_file():
            self._watcher.addPath(str(path))

    def _check_disk(self) -> None:
        path = self.document.file_path
        if path is None or self._closing_accepted:
            return
        if str(path) not in self._watcher.files() and path.is_file():
            self._watcher.addPath(str(path))  # a replaced file (atomic save) is a new inode
        try:
            current = read_text(path).text
        except FileError:
            self.show_message(f"{path.name} was moved or deleted on disk; Save writes it again.", 0)
            return
        if current == self._disk_text:
            return
        self._disk_text = current
        if self.document.is_modified:
            box = QMessageBox(self)
            box.setIcon(QMessageBox.Icon.Question)
            box.setWindowTitle(APP_TITLE)
            box.setText(f"“{path.name}” was changed by another program.")
            box.setInformativeText(
                "Reload it? Your unsaved changes stay one Undo away. Keep Mine leaves this "
                "window as it is (saving then replaces the other program's version)."
            )
            reload_button = box.addButton("Reload", QMessageBox.ButtonRole.AcceptRole)
            box.addButton("Keep Mine", QMessageBox.ButtonRole.RejectRole)
            box.setDefaultButton(reload_button)
            box.exec()
            if box.clickedButton() is not reload_button:
                return
        self.document.set_text(current, "Reload from disk")
        self.document.mark_saved(path)
        self.show_message(f"Reloaded {path.name}: it was changed on disk (Undo goes back)", 0)

    def _dialog_folder(self) -> Path:
        path = self.document.file_path
        if path is not None:
            return path.parent
        recent = self.recent.paths()
        if recent:
            return recent[0].parent
        documents = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.DocumentsLocation
        )
        return Path(documents) if documents else Path.home()

    # ----------------------------------------------------------------------------- recovery

    def offer_recovery(self) -> RecoveryDialog | None:
        """Offer the recovery copies of studios that did not exit cleanly (non-blocking)."""
        copies = self.recovery.orphans()
        if not copies:
            return None
        dialog = RecoveryDialog(copies, self)
        dialog.restore_requested.connect(self.restore)
        dialog.open()
        return dialog

    def restore(self, copy: RecoveryCopy) -> bool:
        """Open a recovery copy as unsaved edits of its original file (never written over it:
        the user's Save does that). Undo goes back to the file as saved."""
        try:
            text = copy.read_text()
        except OSError as exc:
            self.error_box("Cannot restore", f"Could not read the recovery copy: {exc}")
            return False
        base = dumps(blank_script())
        original = copy.original
        if original is not None:
            try:
                base = read_text(original).text
            except FileError:
                base = ""  # the original is gone: Undo shows an empty file, Save recreates it
        name = copy.display_name.replace(" (example)", "").replace(" (recovered)", "")
        self._untitled_name = None if original else f"{name} (recovered)"
        self.document.load(base, original)
        self._watch(original, base if original is not None and original.exists() else None)
        self.document.set_text(text, "Restore unsaved edits")
        try:
            self.autosaver.write_now()  # our own copy first, then the old one can go
        except FileError as exc:
            log.warning("recovery copy not written after restore: %s", exc)
        else:
            copy.delete()
        self.show_message(f"Restored the unsaved edits of {copy.display_name} ({copy.when})", 0)
        return True

    def keep_work_after_error(self) -> str | None:
        """For the crash handler: write a recovery copy now; a sentence for its dialog."""
        if not self.document.is_modified:
            return "Your document is still open."
        try:
            path = self.autosaver.write_now()
        except Exception as exc:
            log.warning("recovery copy after an error failed: %s", exc)
            return "Your document is still open (a recovery copy could not be written)."
        return f"Your document is still open, and a recovery copy was saved ({path})."

    # ----------------------------------------------------------------------------- misc

    def set_appearance(self, mode: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_appearance(app, mode)
        self.settings.setValue("view/appearance", mode)
        action = self.appearance_actions.get(mode)
        if action is not None:
            action.setChecked(True)

    def _toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()
        self.full_screen_action.setChecked(self.isFullScreen())

    def _open_folder(self, which: str) -> None:
        from app.paths import log_dir

        folder = log_dir() if which == "logs" else self.recovery.folder
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def about(self) -> None:
        from app import __version__
        from app.paths import data_dir, log_dir

        QMessageBox.about(
            self,
            "About Reelsmith",
            f"<h3>Reelsmith {__version__}</h3><p>Compose videos scene by scene; validate, "
            "preview and render them.</p>"
            f"<p>Recovery copies: {self.recovery.folder}<br>Logs: {log_dir()}<br>"
            f"Data: {data_dir()}</p>",
        )

    # ----------------------------------------------------------------------------- events

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop) and (
            isinstance(watched, QWidget) and watched.window() is self and watched is not self
        ):
            drag: Any = event
            if _dropped_script(drag.mimeData()) is not None:
                if kind == QEvent.Type.Drop:
                    self.dropEvent(drag)
                else:
                    drag.acceptProposedAction()
                return True
        return super().eventFilter(watched, event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_script(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = _dropped_script(event.mimeData())
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        # Not inside the drop handler: the question dialog would run in the drag's event loop.
        QTimer.singleShot(0, lambda: self.open_path(path))

    def paintEvent(self, event: Any) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.first_painted.emit()

    def quit_without_asking(self) -> None:
        """Close now (the session is ending): unsaved edits stay in their recovery copy."""
        self._closing_accepted = True
        self._keep_recovery = self.document.is_modified
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closed:  # closed once already (the clean-up below runs once)
            event.accept()
            return
        if not self._closing_accepted and not self.maybe_save():
            event.ignore()
            return
        self._closed = True
        self._closing_accepted = True
        self.document.file_changed.disconnect(self._update_title)
        self.document.undo_stack.cleanChanged.disconnect(self._update_title)
        self.save_layout()
        self.autosaver.close(keep=self._keep_recovery)
        if self._media_generator is not None:
            self._media_generator.stop()
        self._tasks.shutdown()
        if self._owns_document:
            self.document.close()  # its validation worker stops with the window
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        event.accept()
        self.closed.emit()


def _dropped_script(mime: Any) -> Path | None:
    """The one local `.json` file a drag carries, else None (media drops are the panels')."""
    if mime is None or not mime.hasUrls():
        return None
    urls = mime.urls()
    if len(urls) != 1 or not urls[0].isLocalFile():
        return None
    path = Path(urls[0].toLocalFile())
    return path if path.suffix.lower() == ".json" and not path.name.endswith(".vars.json") else None


def _title_of(script: Path) -> str:
    return script.stem.replace("-", " ").replace("_", " ").capitalize()


def _file_stem(title: str) -> str:
    stem = title.replace(" (example)", "").replace(" (recovered)", "").strip()
    return "".join(c if c.isalnum() or c in "-_ " else "-" for c in stem).strip() or "untitled"


def example_scripts() -> list[tuple[str, Path]]:
    """The bundled examples (title, script path), for File › New from Example."""
    from app.examples import examples_source

    scripts = sorted(
        p for p in examples_source().glob("*.json") if not p.name.endswith(".vars.json")
    )
    return [(_title_of(p), p) for p in scripts]


class _MediaGenerator:
    """The sample-media generator in a child Python (its ~20 s of CPU never compete with the
    GUI thread for the GIL); stopped if the studio closes first. A frozen build, which has no
    plain interpreter, runs it in the worker thread instead."""

    def __init__(self, media: Path) -> None:
        self.media = media
        self.process: Any = None
        self.stopped = False

    def run(self) -> None:
        import subprocess
        import sys

        if getattr(sys, "frozen", False):
            from app.examples import generate_media

            generate_media(self.media)
            return
        code = (
            "import sys, pathlib; from app.examples import generate_media; "
            "generate_media(pathlib.Path(sys.argv[1]))"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(self.media)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        _, errors = self.process.communicate()
        if self.process.returncode != 0 and not self.stopped:
            tail = (errors or "").strip().splitlines()[-1:] or [
                f"exit code {self.process.returncode}"
            ]
            raise RuntimeError(tail[0])

    def stop(self) -> None:
        self.stopped = True
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
