"""Reading a stream in a thread of its own, and closing it once both of its users are done.

`PacketReader` queues each packet with its arrival time for a consumer thread (motion
detection decodes in that thread). Recording does not queue: its reader thread muxes each packet
itself (capture/session.py), since a hand-over per packet costs more than the muxing.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from recorder.capture.opener import OpenedStream
from recorder.clock import Clock
from recorder.errors import StreamError

EOF = object()  # queued when the camera ends the stream
QUEUE_PACKETS = 2000  # about a minute of a busy camera: the consumer never lags that much


class SharedStream:
    """Closes a stream when the last of its users lets go of it.

    The reader thread and the consumer share a stream: the consumer still uses its streams as
    templates after the reader hit the end, and the reader may still be blocked inside FFmpeg
    after the consumer gave up on it."""

    def __init__(self, stream: OpenedStream, users: int = 2) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self._users = users

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._users == 0
        if last:
            self.stream.close()


class PacketReader:
    """Queues `(packet, arrival wall time, arrival monotonic time)`, then `EOF` or the
    `StreamError` that ended the stream."""

    def __init__(self, stream: OpenedStream, clock: Clock, name: str) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_PACKETS)
        self._stream = stream
        self._shared = SharedStream(stream)
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"read-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Called by the consumer when it is done with the stream."""
        self._stop.set()
        self._shared.release()

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            for packet in self._stream.packets():
                if self._stop.is_set():
                    break
                self._put((packet, self._clock.now(), self._clock.monotonic()))
            self._put(EOF)
        except StreamError as exc:
            self._put(exc)
        finally:
            self._shared.release()
