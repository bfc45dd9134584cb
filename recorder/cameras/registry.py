"""The cameras the recorder runs: the config file's, overridden by changes made through the API.

Changes persist in the site database (a row per changed camera, a tombstone per deleted one),
so they survive restarts while the config file stays the way the operator wrote it. Listeners
(the recorder service) are told about each change and restart that camera's worker; other
cameras are not touched.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from recorder.clock import Clock
from recorder.config import CameraConfig, camera_to_dict, parse_camera
from recorder.errors import ConfigError, Conflict, NotFound
from recorder.site_db import SiteDatabase

Listener = Callable[[str, CameraConfig | None], Awaitable[None]]  # None: camera deleted


class CameraRegistry:
    def __init__(self, file_cameras: tuple[CameraConfig, ...], db: SiteDatabase, clock: Clock):
        self._db = db
        self._clock = clock
        self._cameras: dict[str, CameraConfig] = {c.id: c for c in file_cameras}
        self._listeners: list[Listener] = []

    async def load(self) -> list[str]:
        """Apply the changes stored by earlier runs; returns problems (bad stored rows)."""
        problems = []
        async with self._db.conn.execute("SELECT id, config, deleted FROM cameras") as cursor:
            rows = await cursor.fetchall()
        for camera_id, text, deleted in rows:
            if deleted:
                self._cameras.pop(str(camera_id), None)
                continue
            try:
                self._cameras[str(camera_id)] = parse_camera(json.loads(str(text)))
            except (ConfigError, ValueError) as exc:
                problems.append(f"camera {camera_id}: stored change ignored: {exc}")
        return problems

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def all(self) -> list[CameraConfig]:
        return [self._cameras[key] for key in sorted(self._cameras)]

    def get(self, camera_id: str) -> CameraConfig:
        camera = self._cameras.get(camera_id)
        if camera is None:
            raise NotFound(f"no camera {camera_id!r}")
        return camera

    async def create(self, camera: CameraConfig) -> CameraConfig:
        if camera.id in self._cameras:
            raise Conflict(f"camera {camera.id!r} already exists")
        return await self._save(camera)

    async def replace(self, camera: CameraConfig) -> CameraConfig:
        self.get(camera.id)
        return await self._save(camera)

    async def delete(self, camera_id: str) -> None:
        self.get(camera_id)
        await self._db.conn.execute(
            "INSERT INTO cameras (id, config, deleted, updated_ms) VALUES (?, '{}', 1, ?) "
            "ON CONFLICT (id) DO UPDATE SET config = '{}', deleted = 1, "
            "updated_ms = excluded.updated_ms",
            (camera_id, self._now_ms()),
        )
        del self._cameras[camera_id]
        for listener in self._listeners:
            await listener(camera_id, None)

    async def _save(self, camera: CameraConfig) -> CameraConfig:
        await self._db.conn.execute(
            "INSERT INTO cameras (id, config, deleted, updated_ms) VALUES (?, ?, 0, ?) "
            "ON CONFLICT (id) DO UPDATE SET config = excluded.config, deleted = 0, "
            "updated_ms = excluded.updated_ms",
            (camera.id, json.dumps(camera_to_dict(camera)), self._now_ms()),
        )
        self._cameras[camera.id] = camera
        for listener in self._listeners:
            await listener(camera.id, camera)
        return camera

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)
