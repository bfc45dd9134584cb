"""`skycam relay` as a child process: started beside the recorder by `skycam up` (and by the
tests and benches that need a real relay), its URLs read from what it prints, stopped with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self


@dataclass
class RelayChild:
    data_dir: Path
    ports: tuple[int, int, int] = (8700, 8701, 8702)  # 0: any free port, read back on start
    options: tuple[str, ...] = ()  # further `skycam relay` options, e.g. ("--idle-timeout", "60")
    verbose: bool = False  # `skycam -v`
    env: dict[str, str] | None = None  # added to this process's environment
    cwd: Path | None = None
    echo_log: bool = True  # the relay's own log (what it prints once started) to our stderr
    rest: str = ""
    ws: str = ""
    manage: str = ""
    admin_password: str | None = None
    output: list[str] = field(default_factory=list)
    _proc: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self, timeout_s: float = 60) -> Self:
        cmd = [sys.executable, "-m", "skycam.cli"] + (["-v"] if self.verbose else [])
        cmd += ["relay", "--data-dir", str(self.data_dir)]
        cmd += ["--port", str(self.ports[0]), "--ws-port", str(self.ports[1])]
        cmd += ["--manage-port", str(self.ports[2]), *self.options]
        env = None if self.env is None else {**os.environ, **self.env}
        self._proc = proc = subprocess.Popen(
            cmd, cwd=self.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        ready = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.output.append(line)
                words = line.split()
                if line.startswith("  REST API"):
                    self.rest = words[-1].removesuffix("/v1")
                elif line.startswith("  WebSocket"):
                    self.ws = words[-1]
                elif line.startswith("  @connections"):
                    self.manage = words[-1]
                elif line.startswith("  relay admin"):
                    self.admin_password = words[-1]
                elif line.startswith("  data"):
                    ready.set()
                elif ready.is_set() and self.echo_log:
                    sys.stderr.write(line)  # later lines: the relay's own log

        threading.Thread(target=read, name="relay-output", daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while not ready.wait(0.1):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the local relay did not start:\n" + "".join(self.output[-20:]))
        # The ports it listens on, which differ from those asked for where those were 0.
        rest, ws, manage = (int(url.rsplit(":", 1)[1]) for url in (self.rest, self.ws, self.manage))
        self.ports = (rest, ws, manage)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(sig)
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._proc = None

    def logs(self) -> str:
        return "".join(self.output)
