"""Runs a real Recorder (capture, retention, API over real sockets) in a background thread, for
tests that talk to it as a client would."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

import httpx

from recorder.config import RecorderConfig
from recorder.service import Recorder


class RecorderThread:
    def __init__(self, config: RecorderConfig) -> None:
        self.recorder = Recorder(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._shutdown: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="recorder", daemon=True)

    def _main(self) -> None:
        async def body() -> None:
            self._loop = asyncio.get_running_loop()
            self._shutdown = asyncio.Event()
            task = asyncio.create_task(self.recorder.run(self._shutdown))
            await asyncio.wait(
                [task, asyncio.create_task(self.recorder.ready.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            )
            self._ready.set()
            await task

        try:
            asyncio.run(body())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
        finally:
            self._ready.set()

    @property
    def http_url(self) -> str:
        api = self.recorder.api
        assert api is not None and api.server.http_port
        return f"http://127.0.0.1:{api.server.http_port}"

    @property
    def https_url(self) -> str:
        api = self.recorder.api
        assert api is not None and api.server.https_port
        return f"https://127.0.0.1:{api.server.https_port}"

    @property
    def admin_password(self) -> str:
        api = self.recorder.api
        assert api is not None and api.first_password
        return api.first_password

    def admin_headers(self) -> dict[str, str]:
        """A fresh access token of the first admin, as an Authorization header."""
        login = httpx.post(
            f"{self.http_url}/api/v1/auth/login",
            json={"username": "admin", "password": self.admin_password},
            timeout=10,
        )
        login.raise_for_status()
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    def call(self, fn, *args):  # type: ignore[no-untyped-def]
        """Run `fn(*args)` on the recorder's event loop and return its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(_call(fn, *args), self._loop).result(10)

    def __enter__(self) -> RecorderThread:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._shutdown is not None:
            self._loop.call_soon_threadsafe(self._shutdown.set)
        self._thread.join(30)


async def _call(fn, *args):  # type: ignore[no-untyped-def]
    return fn(*args)
