"""`skycam relay` as a child process, for `skycam up`: started beside the recorder, its URLs
read from what it prints, stopped with it."""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RelayChild:
    data_dir: Path
    ports: tuple[int, int, int] = (8700, 8701, 8702)
    rest: str = ""
    ws: str = ""
    admin_password: str | None = None
    output: list[str] = field(default_factory=list)
    _proc: subprocess.Popen[str] | None = None

    def start(self, timeout_s: float = 60) -> RelayChild:
        cmd = [sys.executable, "-m", "skycam.cli", "relay", "--data-dir", str(self.data_dir)]
        cmd += ["--port", str(self.ports[0]), "--ws-port", str(self.ports[1])]
        cmd += ["--manage-port", str(self.ports[2])]
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        ready = threading.Event()

        def read() -> None:
            assert self._proc is not None and self._proc.stdout is not None
            for line in self._proc.stdout:
                self.output.append(line)
                words = line.split()
                if line.startswith("  REST API"):
                    self.rest = words[-1].removesuffix("/v1")
                elif line.startswith("  WebSocket"):
                    self.ws = words[-1]
                elif line.startswith("  relay admin"):
                    self.admin_password = words[-1]
                elif line.startswith("  data"):
                    ready.set()
                elif ready.is_set():
                    sys.stderr.write(line)  # later lines: the relay's own log

        threading.Thread(target=read, name="relay-output", daemon=True).start()
        if not ready.wait(timeout_s):
            self.stop()
            raise RuntimeError("the local relay did not start:\n" + "".join(self.output[-20:]))
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None
