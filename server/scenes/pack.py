"""Build a pack of pre-exported scenes to ship with the app, so the first launch shows a scene at once:

    python -m server.scenes.pack OUT_DIR [--cache CACHE_DIR] [--family FAMILY ...]

writes `OUT_DIR/<cache key>/`: the scene catalogue (`catalog.json`, every Playground id) and `<id>.json` +
`<id>.mjb.gz` for each scene of the families asked for (default: classic_control, the 25 dm_control scenes,
about 8 MB). The layout is the registry's cache folder, so the registry copies a scene from it instead of
exporting it (server/scenes/registry.py). The app looks for packs in `scenes/pack/` (shipped.PACK_DIR); a pack
made with other versions of MuJoCo, Playground or the asset wheels has another key and is ignored.

Exports run in this process (Playground imported once: about a minute for the 25 scenes on one core);
`--cache DIR` copies the scenes a registry cache already holds intact instead (e.g. the app's, or the test
suite's ROBOCOACH_TEST_SCENE_CACHE).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import get_args

from server.scenes import export
from server.scenes.menagerie import prepare_menagerie
from server.scenes.registry import cache_key, copy_exported_scene, read_exported_scene, write_catalog
from server.scenes.shipped import read_shipped_catalog
from server.scenes.types import SceneFamily

DEFAULT_FAMILIES: tuple[SceneFamily, ...] = ("classic_control",)


def build_pack(
    out_dir: Path, cache_dir: Path | None = None, families: tuple[SceneFamily, ...] = DEFAULT_FAMILIES
) -> Path:
    """Write the pack's folder and return it. Scenes already intact in `cache_dir` (a registry cache) are
    copied; the others are exported here, in this process."""
    catalog = read_shipped_catalog() or export.list_scenes()
    pack = out_dir / cache_key()
    if pack.exists():
        shutil.rmtree(pack)
    pack.mkdir(parents=True)
    cached = cache_dir / "scenes" / pack.name if cache_dir is not None else None
    with tempfile.TemporaryDirectory(prefix="robocoach-pack-") as tmp:
        # dm_control scenes need no Menagerie; the others do.
        menagerie = prepare_menagerie(Path(tmp)) if set(families) - {"classic_control"} else Path(tmp)
        for scene_id, family in catalog:
            if family not in families:
                continue
            if cached is not None and read_exported_scene(cached, scene_id) is not None:
                copy_exported_scene(cached, pack, scene_id)
            else:
                export.export_scene(scene_id, pack, menagerie)
            if read_exported_scene(pack, scene_id) is None:
                raise RuntimeError(f"{scene_id} did not export intact into {pack}")
    write_catalog(pack, catalog)
    return pack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.scenes.pack", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path, help="where to write <cache key>/ (the app reads scenes/pack/)")
    parser.add_argument(
        "--cache", type=Path, help="a scene cache folder (the app's) to copy intact scenes from"
    )
    parser.add_argument(
        "--family",
        action="append",
        choices=get_args(SceneFamily),
        help="a scene family to include (repeatable; default: classic_control)",
    )
    args = parser.parse_args(argv)
    families = tuple(args.family or DEFAULT_FAMILIES)
    started = time.perf_counter()
    pack = build_pack(args.out_dir, args.cache, families)
    size = sum(f.stat().st_size for f in pack.iterdir())
    count = len(list(pack.glob("*.mjb.gz")))
    print(f"{pack}: {count} scenes, {size / 2**20:.1f} MiB, in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
