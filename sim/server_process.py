"""The camera server subprocess: started under the system interpreter, where GStreamer's Python
bindings import, and always stopped with its owner.

It speaks the line protocol described in `gst_server.py`: configuration in on stdin, JSON events
out on stdout. Closing its stdin asks it to exit, and also reaches it if this process dies.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sim.errors import ServerDiedError, ServerStartError

log = logging.getLogger(__name__)

SERVER_SCRIPT = Path(__file__).with_name("gst_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"

Event = dict[str, Any]


class ServerProcess:
    def __init__(self, interpreter: str = SYSTEM_PYTHON, script: Path = SERVER_SCRIPT) -> None:
        self._interpreter = interpreter
        self._script = script
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._events: list[Event] = []
        self._changed = threading.Condition()
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ServerDiedError("the camera server is not running")
        return self._process.pid

    def start(self, config: dict[str, Any], timeout_s: float) -> list[Event]:
        """Start the server and return the cameras of its ready event ({"name", "port"} each)."""
        # A file, not a pipe: nobody has to drain it, and its tail explains a failed start.
        self._stderr = tempfile.TemporaryFile(prefix="skycam-sim-stderr-")  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                [self._interpreter, "-u", str(self._script)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                start_new_session=True,  # a Ctrl-C in a terminal reaches us, and we stop it
            )
        except OSError as exc:
            raise ServerStartError(f"cannot run {self._interpreter}: {exc}") from exc
        assert self._process.stdin is not None
        self._reader = threading.Thread(target=self._read_events, name="sim-server-events")
        self._reader.daemon = True
        self._reader.start()
        try:
            self._process.stdin.write(json.dumps(config).encode() + b"\n")
            self._process.stdin.flush()
        except OSError as exc:
            self.stop()
            raise ServerStartError(f"camera server exited at once{self._stderr_tail()}") from exc
        event = self.wait_for(lambda e: e["event"] in ("ready", "error", "exit"), timeout_s)
        if event is None or event["event"] != "ready":
            if event is None:
                reason = f"did not report ready within {timeout_s:.0f} s"
            elif event["event"] == "exit":
                reason = "exited before it was ready"
            else:
                reason = f"failed: {event.get('message')}"
            self.stop()
            raise ServerStartError(f"camera server {reason}{self._stderr_tail()}")
        cameras: list[Event] = event["cameras"]
        return cameras

    def _read_events(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                log.warning("camera server said: %r", line)
                continue
            log.debug("camera server event: %s", event)
            with self._changed:
                self._events.append(event)
                self._changed.notify_all()
        with self._changed:
            self._events.append({"event": "exit"})
            self._changed.notify_all()

    def events(self) -> list[Event]:
        """Every event so far, oldest first (a copy)."""
        with self._changed:
            return list(self._events)

    def wait_for(self, predicate: Callable[[Event], bool], timeout_s: float) -> Event | None:
        """The first event (past or future) matching `predicate`, or None after `timeout_s` or
        when the server has exited without one."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        with self._changed:
            while True:
                for event in self._events[seen:]:
                    if predicate(event):
                        return event
                    if event["event"] == "exit":  # nothing can follow
                        return None
                seen = len(self._events)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)

    def check_alive(self) -> None:
        if self._process is None or self._process.poll() is not None:
            raise ServerDiedError(f"the camera server has exited{self._stderr_tail()}")

    def stop(self, grace_s: float = 3.0) -> None:
        """Ask the server to exit (end of stdin), then terminate, then kill: it always ends."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            # A broken pipe only means it is already gone.
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(grace_s)
        if process.stdout is not None:
            process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _stderr_tail(self, limit: int = 3000) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""
        return f"\n--- server stderr ---\n{text[-limit:]}" if text else ""
