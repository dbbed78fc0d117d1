"""`robocoach install-desktop`, run as a user would, into a temporary XDG_DATA_HOME."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.desktop.conftest import isolated_env, robocoach_command

ROOT = Path(__file__).resolve().parents[2]


def read_entry(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if line and not line.startswith("#"))


def test_install_desktop_writes_the_entry_and_icon_idempotently(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data_home = tmp_path / "xdg-data"
    env = isolated_env(home, XDG_DATA_HOME=str(data_home))
    command = [*robocoach_command(), "install-desktop"]

    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    entry_path = data_home / "applications" / "robocoach.desktop"
    icon = data_home / "icons" / "hicolor" / "512x512" / "apps" / "robocoach.png"
    assert str(entry_path) in first.stdout and str(icon) in first.stdout
    assert icon.read_bytes() == (ROOT / "packaging" / "icons" / "robocoach.png").read_bytes()

    entry = read_entry(entry_path)
    executable = Path(entry["Exec"])
    assert executable.is_absolute() and executable.name == "robocoach" and executable.is_file()
    assert entry["TryExec"] == entry["Exec"]
    assert entry["Icon"] == str(icon)
    assert entry["Name"] == "Robocoach" and entry["Type"] == "Application"
    # The command it names really is this app.
    version = subprocess.run([entry["Exec"], "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.startswith("robocoach ")

    before = entry_path.read_bytes()
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0
    assert entry_path.read_bytes() == before
    assert sorted(p.name for p in entry_path.parent.iterdir()) == ["robocoach.desktop"]
    assert not (home / ".local").exists()  # XDG_DATA_HOME was honoured


def test_without_xdg_data_home_it_goes_under_the_home_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = isolated_env(home)
    env.pop("XDG_DATA_HOME")
    result = subprocess.run(
        [*robocoach_command(), "install-desktop"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert (home / ".local" / "share" / "applications" / "robocoach.desktop").is_file()
