"""The application icon and `robocoach install-desktop`: the .desktop entry that puts Robocoach in the
desktop's application menu (freedesktop.org; Linux desktops), pointing at the executable now running."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from server.files import write_atomic
from server.workers import is_frozen

APP_ID = "robocoach"
ICON_SIZE = 512  # px; packaging/icons/robocoach.png, drawn by scripts/make_icon.py
# From source: the repository root; frozen: the bundle's folder, where the spec puts packaging/icons.
_ROOT = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[1]))
TEMPLATE = _ROOT / "packaging" / "robocoach.desktop"


def icon_path() -> Path | None:
    """The icon PNG shipped with the app; None when this copy has none (e.g. an installed wheel)."""
    path = _ROOT / "packaging" / "icons" / f"{APP_ID}.png"
    return path if path.is_file() else None


def executable() -> Path:
    """What the menu entry runs: the frozen app itself, or the `robocoach` script of this environment."""
    if is_frozen():
        return Path(sys.executable).resolve()
    script = Path(sys.executable).parent / APP_ID
    if script.is_file():
        return script.absolute()  # not resolved: a venv's python is a link to the system's
    found = shutil.which(APP_ID)
    if found is None:
        raise SystemExit("cannot find the `robocoach` command to put in the menu entry")
    return Path(found).absolute()


def data_home() -> Path:
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if value and Path(value).is_absolute() else Path.home() / ".local" / "share"


def desktop_entry(exec_path: Path, icon: str) -> str:
    """The template (packaging/robocoach.desktop) with Exec/TryExec/Icon filled in."""
    lines = []
    for line in TEMPLATE.read_text().splitlines():
        key = line.split("=", 1)[0]
        if key in ("Exec", "TryExec"):
            line = f"{key}={_quote(str(exec_path))}" if key == "Exec" else f"{key}={exec_path}"
        elif key == "Icon":
            line = f"Icon={icon}"
        elif line.startswith("#"):
            continue  # the template's notes are for packagers
        lines.append(line)
    return "\n".join(lines) + "\n"


def _quote(arg: str) -> str:
    """Exec quoting (Desktop Entry Specification): double quotes around an argument with reserved chars."""
    if not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'


def install_desktop_entry() -> list[str]:
    """Writes the menu entry and its icon under $XDG_DATA_HOME (default ~/.local/share); idempotent.
    Returns what it did, a line each, for the person who ran it."""
    home = data_home()
    said = []
    icon = icon_path()
    icon_value = APP_ID
    if icon is not None:
        target = home / "icons" / "hicolor" / f"{ICON_SIZE}x{ICON_SIZE}" / "apps" / f"{APP_ID}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(icon, target)
        icon_value = str(target)
        said.append(f"icon: {target}")
    exec_path = executable()
    entry = home / "applications" / f"{APP_ID}.desktop"
    write_atomic(entry, desktop_entry(exec_path, icon_value).encode(), mode=0o644)
    said.append(f"menu entry: {entry} (runs {exec_path})")
    return said
