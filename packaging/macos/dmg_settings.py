"""dmgbuild settings for the macOS disk image: the app and an Applications link side by side.

Built by `python packaging/build.py --installer` on macOS, which runs `dmgbuild -s
packaging/macos/dmg_settings.py -D app=dist/Reelsmith.app -D icon=... "Reelsmith" out.dmg`.
dmgbuild executes this file with `defines` (the -D values) in its namespace.
"""

# ruff: noqa: F821  (`defines` is provided by dmgbuild when it runs this file)
import os.path

application = defines.get("app", "dist/Reelsmith.app")
appname = os.path.basename(application)

format = "UDZO"  # compressed, read-only
filesystem = "HFS+"
size = None  # computed from the contents
files = [application]
symlinks = {"Applications": "/Applications"}
badge_icon = defines.get("icon")
icon_locations = {appname: (140, 160), "Applications": (420, 160)}
window_rect = ((200, 200), (560, 340))
background = "builtin-arrow"
show_status_bar = False
show_toolbar = False
show_pathbar = False
show_sidebar = False
default_view = "icon-view"
icon_size = 112
text_size = 13
license = None
