"""API-side scene registry: lists Playground envs and exports their models in worker processes.

Never imports jax or mujoco_playground (the API process must start fast). The list of scene ids comes
from Playground itself: the first task on the first worker returns `registry.ALL_ENVS` with each id's
family, and we cache it as `catalog.json` next to the exported scenes. The cache folder is keyed by the
installed versions of mujoco, playground and the asset wheels, so a cached catalog is exactly what that
Playground would report, and later launches know every id (and every exported scene) instantly.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
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
from server.scenes.types import SceneFailure, SceneFamily, SceneInfo, SceneList

log = logging.getLogger(__name__)

# Bump when export.py changes what it writes, to invalidate every cached scene.
EXPORT_FORMAT = 2  # 2: SceneInfo.command

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
        lister: Lister = export.list_scenes,
        exporter: Exporter = export.run_export,
        timeout_s: float = 300.0,
    ) -> None:
        self.cache_dir = cache_dir
        self.scenes_dir = cache_dir / "scenes" / cache_key()
        self._lanes = [Lane(f"scene-worker-{i}") for i in range(max(1, workers))]
        self._lister = lister
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
        cached = self._read_cached_catalog()
        if cached is not None:
            self._set_catalog(cached)
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
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(lane.close() for lane in self._lanes))
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
            return SceneList(scenes=[], pending=[], failed=[failure], complete=True)
        ids = list(self._families or {})
        return SceneList(
            scenes=[self._ready[i] for i in ids if i in self._ready],
            pending=[i for i in ids if i not in self._ready and i not in self._failed],
            failed=[SceneFailure(id=i, error=self._failed[i]) for i in ids if i in self._failed],
            complete=self._families is not None and len(self._ready) + len(self._failed) == len(ids),
        )

    async def get(self, scene_id: str) -> SceneInfo:
        """The scene's description, waiting (at the front of the queue) if it is still being exported."""
        families = await self._catalog()
        if scene_id not in families:
            raise UnknownScene(scene_id, list(families))
        if scene_id in self._queue:
            self._queue.remove(scene_id)
            self._queue.appendleft(scene_id)
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

    def _read_cached_catalog(self) -> list[tuple[str, SceneFamily]] | None:
        path = self.scenes_dir / "catalog.json"
        try:
            return msgspec.json.decode(path.read_bytes(), type=_Catalog).scenes
        except (OSError, msgspec.DecodeError):
            return None

    def _set_catalog(self, scenes: list[tuple[str, SceneFamily]]) -> None:
        self._families = dict(scenes)
        for scene_id in self._families:
            self._done[scene_id] = asyncio.Event()
            info = self._read_cached_scene(scene_id)
            if info is not None:
                self._ready[scene_id] = info
                self._done[scene_id].set()
            else:
                self._queue.append(scene_id)
        self._catalog_known.set()

    def _read_cached_scene(self, scene_id: str) -> SceneInfo | None:
        json_path = self.scenes_dir / f"{scene_id}.json"
        if not (json_path.is_file() and self.model_path(scene_id).is_file()):
            return None
        try:
            raw = msgspec.json.decode(json_path.read_bytes())
            # The catalogue's fields are read afresh: it may have changed since the export.
            meta = scene_metadata(scene_id, raw["family"])
            return msgspec.convert(raw | msgspec.structs.asdict(meta), SceneInfo)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError):
            return None

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

    async def _list_scenes(self, lane: Lane) -> None:
        try:
            scenes = await lane.call(self._timeout_s, self._lister)
        except Exception as exc:
            self._catalog_error = f"could not list Playground environments: {_describe_error(exc)}"
            log.exception("%s", self._catalog_error)
            self._catalog_known.set()
            return
        write_atomic(self.scenes_dir / "catalog.json", msgspec.json.encode(_Catalog(scenes)))
        self._set_catalog(scenes)

    async def _export(self, lane: Lane, scene_id: str) -> None:
        try:
            result = await lane.call(
                self._timeout_s, self._exporter, scene_id, self.scenes_dir, self._menagerie_dir
            )
        except Exception as exc:
            self._failed[scene_id] = _describe_error(exc)
            log.warning("scene %s failed: %s", scene_id, self._failed[scene_id], exc_info=exc)
        else:
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


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, WorkerDiedError | SceneLoadError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
