"""API-side scene registry: lists Playground envs and exports their models in worker processes.

Never imports jax or mujoco_playground (the API process must start fast). The list of scene ids is what
Playground itself reports (`registry.ALL_ENVS` with each id's family): the app ships it
(`scenes/playground.json`, server/scenes/shipped.py) for the Playground version it was made from, so every
id is known at start without a worker. With another Playground installed, the first task on the first
worker lists them and we cache that as `catalog.json` next to the exported scenes. The cache folder is
keyed by the installed versions of mujoco, playground and the asset wheels, so a cached catalog is exactly
what that Playground would report, and later launches know every id (and every exported scene) instantly.

Scenes a shipped pack holds (`scenes/pack/<cache key>/`, server/scenes/pack.py) are copied into the cache
at start instead of exported. The rest are exported in the background by workers at the lowest CPU priority
(nice 19, SCHED_IDLE), the scene the UI opens first (`FIRST_SCENE`) before the others. A scene someone waits
for (`get`) is exported at once by a worker at normal priority: an idle-priority worker gets no CPU while
anything else runs, and this is the one export the user is waiting for.
A cached file is checked before it is trusted (`_check_model`): a damaged one is exported again.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import shutil
from collections import deque
from collections.abc import Callable
from pathlib import Path

import msgspec

from server.files import sha256_bytes, write_atomic
from server.scenes import export
from server.scenes.catalog import scene_metadata
from server.scenes.lanes import Lane, WorkerDiedError
from server.scenes.loader import SceneLoadError
from server.scenes.menagerie import MenagerieError, asset_versions, prepare_menagerie
from server.scenes.shipped import PACK_DIR, read_shipped_catalog
from server.scenes.types import PendingScene, SceneFailure, SceneFamily, SceneInfo, SceneList

log = logging.getLogger(__name__)

# Bump when export.py changes what it writes, to invalidate every cached scene.
EXPORT_FORMAT = 3  # 2: SceneInfo.command; 3: the reacher's observation (server/scenes/observations.py)
# The scene the UI opens when nothing else is asked for (ui/src/components/format.ts defaultSceneId).
FIRST_SCENE = "CartpoleBalance"

Lister = Callable[[], list[tuple[str, SceneFamily]]]
Exporter = Callable[[str, Path, Path], export.ExportResult]


class UnknownScene(LookupError):  # noqa: N818 (the name other modules code against)
    def __init__(self, scene_id: str, valid_ids: list[str]) -> None:
        super().__init__(f"unknown scene {scene_id!r}")
        self.scene_id = scene_id
        self.valid_ids = valid_ids


class SceneFailedError(RuntimeError):
    def __init__(self, scene_id: str, error: str) -> None:
        super().__init__(f"scene {scene_id!r} failed to load: {error}")
        self.scene_id = scene_id
        self.error = error


class CatalogUnavailableError(RuntimeError):
    """Playground could not even list its environments (e.g. it failed to import)."""


class _Catalog(msgspec.Struct, frozen=True):
    scenes: list[tuple[str, SceneFamily]]


def write_catalog(folder: Path, scenes: list[tuple[str, SceneFamily]]) -> None:
    """`catalog.json`: the ids and families of the scenes a cache or a pack folder serves."""
    write_atomic(folder / "catalog.json", msgspec.json.encode(_Catalog(scenes)))


def read_catalog(folder: Path) -> list[tuple[str, SceneFamily]] | None:
    """The scenes of `folder/catalog.json`; None when missing, empty or damaged (then listed again)."""
    path = folder / "catalog.json"
    try:
        return msgspec.json.decode(path.read_bytes(), type=_Catalog).scenes or None
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError) as exc:
        log.warning("damaged scene catalogue %s (%s): listing the scenes again", path, exc)
        return None


def cache_key() -> str:
    """Hash of what determines exported models; reads package metadata only (no heavy imports)."""
    versions = {dist: importlib.metadata.version(dist) for dist in ("mujoco", "playground")}
    versions |= asset_versions()
    versions["export_format"] = str(EXPORT_FORMAT)
    return sha256_bytes(repr(sorted(versions.items())).encode())[:16]


class SceneRegistry:
    """Scenes by id. Call `start()` inside the app's event loop and `await close()` at shutdown."""

    def __init__(
        self,
        cache_dir: Path,
        workers: int = 2,
        *,
        lister: Lister | None = None,
        exporter: Exporter = export.run_export,
        timeout_s: float = 300.0,
        pack_dir: Path | None = PACK_DIR,
    ) -> None:
        """`lister` None: Playground's scenes (the shipped catalogue if it matches the installed Playground,
        else listed in a worker). `pack_dir`: a folder of pre-exported scene packs, one per cache key."""
        self.cache_dir = cache_dir
        key = cache_key()
        self.scenes_dir = cache_dir / "scenes" / key
        self._pack = pack_dir / key if pack_dir is not None else None
        # Background work: the lanes run at the lowest CPU priority (the user's playback and API come first).
        self._lanes = [Lane(f"scene-worker-{i}", low_priority=True) for i in range(max(1, workers))]
        # Scenes a request waits for, exported at normal priority (started on demand, closed when idle).
        self._urgent_lane = Lane("scene-worker-urgent")
        self._urgent: deque[str] = deque()
        self._urgent_task: asyncio.Task[None] | None = None
        self._shipped = lister is None
        self._lister = lister or export.list_scenes
        self._exporter = exporter
        self._timeout_s = timeout_s
        self._families: dict[str, SceneFamily] | None = None  # catalog, in export order
        self._catalog_error: str | None = None
        self._ready: dict[str, SceneInfo] = {}
        self._failed: dict[str, str] = {}
        self._queue: deque[str] = deque()  # pending and not yet handed to a lane
        self._done: dict[str, asyncio.Event] = {}
        self._catalog_known = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._menagerie_dir = cache_dir / "menagerie" / "unavailable"
        self._closed = False
        self.peak_rss_bytes: dict[
            str, int
        ] = {}  # worker lane -> highest resident memory seen, for diagnostics

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Read cached scenes now and export the rest in the background. Needs a running event loop."""
        loop = asyncio.get_running_loop()
        self.scenes_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._menagerie_dir = prepare_menagerie(self.cache_dir)
        except MenagerieError as exc:
            # dm_control scenes need no Menagerie; the others will fail with this message.
            log.error("%s", exc)
        # The cache's own list first (same key, so the same Playground listed it), then the shipped one.
        known = (
            read_catalog(self.scenes_dir)
            or (read_shipped_catalog() if self._shipped else None)
            or (read_catalog(self._pack) if self._pack is not None and self._shipped else None)
        )
        if known is not None:
            self._set_catalog(known)
        self._tasks = [
            loop.create_task(self._run_lane(i), name=lane.name) for i, lane in enumerate(self._lanes)
        ]

    def cancel_pending(self) -> None:
        """Export nothing more (a command-line run that needs one scene, already returned by `get`): the
        other exports would compete with training for the CPU. Scenes already exported stay available."""
        self._queue.clear()

    async def close(self) -> None:
        """Cancel pending exports and stop the workers; in-flight exports are killed, not awaited."""
        self._closed = True
        tasks = [*self._tasks, *([self._urgent_task] if self._urgent_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(lane.close() for lane in [*self._lanes, self._urgent_lane]))
        self._queue.clear()
        self._catalog_known.set()
        for event in self._done.values():
            event.set()  # wake any get() still waiting; it then reports the registry closed

    # --- queries ---------------------------------------------------------------------------------

    def snapshot(self) -> SceneList:
        """Scenes in export order. If Playground cannot even list its envs, that error is the one failure
        (id "playground") and the list is complete, so the UI stops waiting and shows why."""
        if self._catalog_error is not None:
            failure = SceneFailure(id="playground", error=self._catalog_error)
            return SceneList(scenes=[], pending=[], pending_scenes=[], failed=[failure], complete=True)
        families = self._families or {}
        pending = [i for i in families if i not in self._ready and i not in self._failed]
        return SceneList(
            scenes=[self._ready[i] for i in families if i in self._ready],
            pending=pending,
            pending_scenes=[_pending_scene(i, families[i]) for i in pending],
            failed=[SceneFailure(id=i, error=self._failed[i]) for i in families if i in self._failed],
            complete=self._families is not None and len(self._ready) + len(self._failed) == len(families),
        )

    async def get(self, scene_id: str) -> SceneInfo:
        """The scene's description, waiting if it is still being exported: then it is exported at once at
        normal priority (also if a background worker already has it: whichever finishes first counts)."""
        families = await self._catalog()
        if scene_id not in families:
            raise UnknownScene(scene_id, list(families))
        if not self._done[scene_id].is_set() and scene_id not in self._urgent and not self._closed:
            if scene_id in self._queue:
                self._queue.remove(scene_id)
            self._urgent.append(scene_id)
            if self._urgent_task is None or self._urgent_task.done():
                self._urgent_task = asyncio.get_running_loop().create_task(
                    self._run_urgent(), name=self._urgent_lane.name
                )
        await self._done[scene_id].wait()
        return self._result(scene_id)

    def model_path(self, scene_id: str) -> Path:
        """Path of `<id>.mjb.gz`; it exists once `get(scene_id)` has returned."""
        if self._families is not None and scene_id not in self._families:
            raise UnknownScene(scene_id, list(self._families))
        return self.scenes_dir / f"{scene_id}.mjb.gz"

    async def _catalog(self) -> dict[str, SceneFamily]:
        if self._families is None and not self._tasks:
            raise CatalogUnavailableError("the scene registry was not started")
        await self._catalog_known.wait()
        if self._families is None:
            raise CatalogUnavailableError(self._catalog_error or "the scene registry is closed")
        return self._families

    def _result(self, scene_id: str) -> SceneInfo:
        if scene_id in self._ready:
            return self._ready[scene_id]
        if scene_id in self._failed:
            raise SceneFailedError(scene_id, self._failed[scene_id])
        raise RuntimeError("the scene registry is closed")

    # --- catalog and cache -----------------------------------------------------------------------

    def _set_catalog(self, scenes: list[tuple[str, SceneFamily]]) -> None:
        self._families = dict(scenes)
        for scene_id in self._families:
            self._done[scene_id] = asyncio.Event()
            info = read_exported_scene(self.scenes_dir, scene_id) or self._seed_from_pack(scene_id)
            if info is not None:
                self._ready[scene_id] = info
                self._done[scene_id].set()
            else:
                self._queue.append(scene_id)
        if FIRST_SCENE in self._queue:
            self._queue.remove(FIRST_SCENE)
            self._queue.appendleft(FIRST_SCENE)
        self._catalog_known.set()

    def _seed_from_pack(self, scene_id: str) -> SceneInfo | None:
        """Copy a pre-exported scene from the shipped pack into the cache (a few MB: milliseconds)."""
        if self._pack is None:
            return None
        info = read_exported_scene(self._pack, scene_id)
        if info is not None:
            copy_exported_scene(self._pack, self.scenes_dir, scene_id)  # the same bytes: no second check
        return info

    # --- workers ---------------------------------------------------------------------------------

    async def _run_lane(self, index: int) -> None:
        lane = self._lanes[index]
        if self._families is None:
            if index == 0:
                await self._list_scenes(lane)
            else:
                # Import Playground while lane 0 lists, so this worker is warm when the list arrives.
                try:
                    await lane.call(self._timeout_s, export.warm_up)
                except Exception as exc:  # the real error will surface on this lane's first export
                    log.warning("warming up %s failed: %s", lane.name, exc)
                await self._catalog_known.wait()
        while self._queue and not self._closed:
            await self._export(lane, self._queue.popleft())
        # A worker that has loaded many envs holds 2-3 GiB; give it back once there is nothing left to do.
        await lane.close()

    async def _run_urgent(self) -> None:
        while self._urgent and not self._closed:
            while self._urgent and not self._closed:
                scene_id = self._urgent[0]  # stays in the deque while exporting: get() does not add it again
                if not self._done[scene_id].is_set():
                    await self._export(self._urgent_lane, scene_id)
                self._urgent.popleft()
            # Give its memory back; a get() that came in while this closed is served by the outer loop.
            await self._urgent_lane.close()

    async def _list_scenes(self, lane: Lane) -> None:
        try:
            scenes = await lane.call(self._timeout_s, self._lister)
        except Exception as exc:
            self._catalog_error = f"could not list Playground environments: {_describe_error(exc)}"
            log.exception("%s", self._catalog_error)
            self._catalog_known.set()
            return
        write_catalog(self.scenes_dir, scenes)
        self._set_catalog(scenes)

    async def _export(self, lane: Lane, scene_id: str) -> None:
        try:
            result = await lane.call(
                self._timeout_s, self._exporter, scene_id, self.scenes_dir, self._menagerie_dir
            )
        except Exception as exc:
            if self._done[scene_id].is_set():
                return  # the other lane's export of it already counted
            self._failed[scene_id] = _describe_error(exc)
            log.warning("scene %s failed: %s", scene_id, self._failed[scene_id], exc_info=exc)
        else:
            if self._done[scene_id].is_set():
                return
            self._ready[scene_id] = result.info
            self.peak_rss_bytes[lane.name] = max(self.peak_rss_bytes.get(lane.name, 0), result.peak_rss_bytes)
            log.info(
                "scene %s exported in %.1f s (%s peak %.0f MiB)",
                scene_id,
                result.seconds,
                lane.name,
                result.peak_rss_bytes / 2**20,
            )
        self._done[scene_id].set()


def read_exported_scene(folder: Path, scene_id: str) -> SceneInfo | None:
    """The scene's description if `<id>.json` and `<id>.mjb.gz` in `folder` are both intact; a damaged
    pair is logged and never served (in the cache, the registry exports it again over it)."""
    json_path = folder / f"{scene_id}.json"
    model_path = folder / f"{scene_id}.mjb.gz"
    if not (json_path.is_file() and model_path.is_file()):
        return None
    try:
        raw = msgspec.json.decode(json_path.read_bytes())
        # The catalogue's fields are read afresh: it may have changed since the export.
        meta = scene_metadata(scene_id, raw["family"])
        info = msgspec.convert(raw | msgspec.structs.asdict(meta), SceneInfo)
        if info.id != scene_id:
            raise ValueError(f"it describes {info.id!r}")
    except (OSError, msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError, ValueError) as exc:
        log.warning("damaged scene description %s (%s): exporting %s again", json_path, exc, scene_id)
        return None
    problem = _check_model(model_path, info.model_bytes)
    if problem is not None:
        log.warning("damaged scene model %s (%s): exporting %s again", model_path, problem, scene_id)
        return None
    return info


def copy_exported_scene(source: Path, target: Path, scene_id: str) -> None:
    """Copy an intact exported scene between folders of the cache's layout: the model first, the description
    last, each by rename, so a description present in `target` means the pair is complete."""
    for name in (f"{scene_id}.mjb.gz", f"{scene_id}.json"):
        tmp = target / f".{name}.copy.tmp"
        shutil.copyfile(source / name, tmp)
        tmp.replace(target / name)


def _pending_scene(scene_id: str, family: SceneFamily) -> PendingScene:
    meta = scene_metadata(scene_id, family)
    return PendingScene(id=scene_id, name=meta.name, family=family, robot=meta.robot, kind=meta.kind)


_GZIP_MAGIC = b"\x1f\x8b\x08"  # gzip, deflate


def _check_model(path: Path, model_bytes: int) -> str | None:
    """What is wrong with an exported `<id>.mjb.gz`, or None. Cheap (reads its first 64 KiB and last 4
    bytes, whatever its size): a gzip header, a deflate stream that starts to decompress, and the gzip
    trailer's ISIZE equal to the model's size (mod 2**32), which a truncated or overwritten file fails."""
    import zlib

    try:
        with path.open("rb") as file:
            head = file.read(2**16)
            file.seek(-4, 2)
            isize = int.from_bytes(file.read(4), "little")
    except OSError as exc:
        return str(exc)
    if not head.startswith(_GZIP_MAGIC):
        return "not a gzip file"
    try:
        zlib.decompressobj(wbits=31).decompress(head, 1024)
    except zlib.error as exc:
        return f"unreadable gzip data: {exc}"
    if isize != model_bytes % 2**32:
        return f"the gzip trailer says {isize} bytes, the model has {model_bytes} (a truncated file?)"
    return None


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, WorkerDiedError | SceneLoadError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
