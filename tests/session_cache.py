"""Where the test session's scene cache lives: by default a folder kept between runs, like the bundle's build
cache (scripts/build_bundle.sh), so a run on a machine that ran the suite before (a developer's, CI's) starts
with every Playground scene exported and every XLA program it compiled last time.

What is kept can never be stale:
- the JAX compilation cache (`jax-compilation/`) is keyed by JAX itself on the compiled program, the jaxlib
  version, the platform and the compile options;
- every other folder is made by the app's own code (scene exports, Menagerie assets, the reward vocabulary,
  the check's sample rollouts), and the app keys those only by package versions and hand-bumped format
  numbers; here each is also thrown away when the source of the code that makes it changes.

ROBOCOACH_TEST_SCENE_CACHE: a folder to use instead, or `fresh` for a new empty one (a cold run). A second
test session while one runs gets a fresh one too: one session at a time writes the kept folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEPT = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "robocoach" / "test-scene-cache"
COMPILATION = "jax-compilation"
# Each derived folder, and the sources whose change throws it away (with the locked dependencies).
MADE_BY: dict[tuple[str, ...], tuple[str, ...]] = {
    ("scenes", "menagerie"): ("server/scenes", "server/files.py", "server/sandbox", "server/workers.py"),
    ("rewards", "check-samples"): (
        "server/scenes",
        "server/rewards",
        "server/checks",
        "server/commands",
        "server/files.py",
        "server/sandbox",
        "server/workers.py",
    ),
}
# The compilation cache only grows (each new reward program is a new program): past this, the oldest go.
COMPILATION_CAP_BYTES = 2 * 2**30
COMPILATION_KEEP_BYTES = 2**30

_lock: int | None = None  # held for the whole session once the kept folder is ours


def _source_stamp(paths: tuple[str, ...]) -> str:
    digest = hashlib.sha256(f"{sys.version}\n".encode())
    for name in ("uv.lock", *paths):
        root = ROOT / name
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _drop_stale(cache: Path) -> None:
    for folders, sources in MADE_BY.items():
        stamp_file = cache / f".stamp-{'-'.join(folders)}"
        stamp = _source_stamp(sources)
        if stamp_file.is_file() and stamp_file.read_text() == stamp:
            continue
        for folder in folders:
            shutil.rmtree(cache / folder, ignore_errors=True)
        stamp_file.write_text(stamp)


def _prune_compilations(folder: Path) -> None:
    if not folder.is_dir():
        return
    stats = [(entry, entry.stat()) for entry in folder.iterdir()]
    entries = sorted((stat.st_mtime, stat.st_size, entry) for entry, stat in stats)
    total = sum(size for _, size, _ in entries)
    if total <= COMPILATION_CAP_BYTES:
        return
    for _, size, entry in entries:  # oldest first
        if total <= COMPILATION_KEEP_BYTES:
            break
        entry.unlink(missing_ok=True)
        total -= size


def claim() -> Path | None:
    """The kept folder, now this session's, or None where this session gets a fresh one (asked for with
    `fresh`, or another session holds the kept one). Called once, before any test."""
    global _lock
    if os.environ.get("ROBOCOACH_TEST_SCENE_CACHE"):
        return None
    KEPT.mkdir(parents=True, exist_ok=True)
    fd = os.open(KEPT.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        print(f"another test session holds {KEPT}: this one exports its scenes afresh", file=sys.stderr)
        return None
    _lock = fd
    _drop_stale(KEPT)
    _prune_compilations(KEPT / COMPILATION)
    return KEPT


def use_for_this_process(cache: Path) -> None:
    """Compilations made in the test process itself (tests that train in process) go to the same cache.
    JAX settles its cache folder at the first compilation, so this runs before any test."""
    import jax

    jax.config.update("jax_compilation_cache_dir", str(cache / COMPILATION))  # type: ignore[no-untyped-call]
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)  # type: ignore[no-untyped-call]
