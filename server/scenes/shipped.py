"""What ships with the app so the first launch needs no worker: the list of Playground scenes
(`scenes/playground.json`) and, in the bundle, a pack of pre-exported scenes (`scenes/pack/<cache key>/`).

The shipped catalogue records the Playground version it was listed from; with any other Playground installed
the registry ignores it and lists in a worker as before. Regenerate it after upgrading Playground:

    python -m server.scenes.shipped            # rewrites scenes/playground.json from the installed Playground

Cheap to import in the API process (no jax, no Playground): the generator imports Playground only in `main`.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import sys
from pathlib import Path

import msgspec

from server.files import write_atomic
from server.scenes.types import SceneFamily

log = logging.getLogger(__name__)

SCENES_ROOT = Path(__file__).resolve().parents[2] / "scenes"
SHIPPED_CATALOG = SCENES_ROOT / "playground.json"
# Pre-exported scenes, one folder per cache key (written by server/scenes/pack.py; git-ignored here).
# ROBOCOACH_SCENE_PACK_DIR points elsewhere (a benchmark runs without the pack by naming an empty one).
PACK_DIR = Path(os.environ.get("ROBOCOACH_SCENE_PACK_DIR") or SCENES_ROOT / "pack")


class ShippedCatalog(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    playground: str  # the `playground` distribution's version these ids were listed from
    scenes: list[tuple[str, SceneFamily]]  # (id, family) in export order, as export.list_scenes returns


def playground_version() -> str:
    return importlib.metadata.version("playground")


def read_shipped_catalog(path: Path = SHIPPED_CATALOG) -> list[tuple[str, SceneFamily]] | None:
    """The shipped scene list if it was made from the installed Playground, else None (list in a worker)."""
    try:
        shipped = msgspec.json.decode(path.read_bytes(), type=ShippedCatalog)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError) as exc:
        log.warning("ignoring the shipped scene catalogue %s: %s", path, exc)
        return None
    installed = playground_version()
    if shipped.playground != installed:
        log.info(
            "the shipped scene catalogue lists playground %s, %s is installed: listing in a worker",
            shipped.playground,
            installed,
        )
        return None
    return shipped.scenes or None


def encode_catalog(scenes: list[tuple[str, SceneFamily]]) -> bytes:
    """One scene a line, so a Playground upgrade reads as a small diff."""
    rows = ",\n".join(f"    {msgspec.json.encode(list(row)).decode()}" for row in scenes)
    version = msgspec.json.encode(playground_version()).decode()
    return f'{{\n  "playground": {version},\n  "scenes": [\n{rows}\n  ]\n}}\n'.encode()


def main(argv: list[str] | None = None) -> int:
    from server.scenes import export

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else SHIPPED_CATALOG
    scenes = export.list_scenes()
    write_atomic(out, encode_catalog(scenes))
    print(f"{out}: {len(scenes)} scenes from playground {playground_version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
