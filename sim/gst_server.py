#!/usr/bin/python3
"""The simulated cameras' RTSP server: one process, one GStreamer RTSPServer per camera.

It runs under the system interpreter (/usr/bin/python3), the only one where the GStreamer bindings
import, so it uses the standard library, `gi` and the stdlib-only sibling `bitstream.py` (imported
by bare name: Python puts this file's folder first on sys.path when it runs as a script).

Protocol with the parent (`sim.cluster.ServerProcess`):
- stdin, first line: the JSON configuration built by `sim.server_config`. The parent then keeps
  stdin open; end of file means the parent is gone, and the server exits.
- stdout: one JSON object per line. `{"event": "ready", "cameras": [{"name", "port"}]}` once every
  camera listens, or `{"event": "error", "message": ...}` before exiting with status 2. Later:
  `media` (a mount started streaming), `drop`, `stall` and `resume` events for the fault modes.
- stderr: GStreamer's and our diagnostics, for humans.

Timing model: unit k of a looped stream (a video frame or an AAC frame) belongs to Unix time
k * unit_duration and leaves the server at that time (see WallClockFeeder). A new media starts at
the next whole second, on an IDR. Hence the scene time shown at Unix time T is T mod duration,
for every camera and every client, and PTS run on across loops without a seam.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
import bitstream  # noqa: E402
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

NS = 1_000_000_000
MS = 1_000_000
# Re-anchor a feeder when its clock mapping is off by more than this: only happens if the pipeline
# was paused (running time stops while wall time goes on).
REANCHOR_NS = 500 * MS

_print_lock = threading.Lock()


def emit(event, **fields):
    with _print_lock:
        sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()


def log(message):
    with _print_lock:
        sys.stderr.write(f"gst_server: {message}\n")
        sys.stderr.flush()


class UnitLoop:
    """Encoded units played in an endless loop; unit k lasts num/den seconds.

    Units are in decode order. With B-frames, `order[i]` is the presentation index of unit i and
    `delay` how many units decoding runs ahead of presentation at most, so that DTS = PTS of the
    unit `delay` places earlier never exceeds a unit's own PTS."""

    def __init__(self, payloads, keyframes, num, den, align, order=None):
        self.buffers = [GLib.Bytes.new(p) for p in payloads]
        self.keyframes = keyframes
        self.num = num
        self.den = den
        self.align = align  # a new media starts on a multiple of this (the GOP for video)
        self.order = order
        self.delay = 0 if order is None else max(i - p for i, p in enumerate(order))

    def unix_ns(self, k):
        # Ceiling keeps every timestamp at or just after the exact instant, so the payloader's
        # floor() to RTP clock ticks gives exactly even steps (see WallClockFeeder).
        return -((-k * self.num * NS) // self.den)

    def first_unit_after_unix_ns(self, t_ns):
        """The first unit at or after `t_ns` that starts an aligned group (a GOP)."""
        k = -(-t_ns * self.den // (self.num * NS))
        return -(-k // self.align) * self.align


def load_video_loop(path, fps, gop, codec="h264", order_path=None):
    units = bitstream.split_access_units(Path(path).read_bytes(), codec)
    bitstream.check_gop_structure(units, gop)
    order = None
    if order_path is not None:
        order = json.loads(Path(order_path).read_text())
        if len(order) != len(units):
            raise ValueError(f"{order_path}: {len(order)} entries for {len(units)} frames")
        bitstream.check_presentation_order(order, gop)
    return UnitLoop([u.data for u in units], [u.is_idr for u in units], 1, fps, gop, order)


def load_adts_loop(path):
    stream = bitstream.split_adts(Path(path).read_bytes())
    keyframes = [True] * len(stream.frames)
    return UnitLoop(
        stream.frames, keyframes, bitstream.ADTS_SAMPLES_PER_FRAME, stream.sample_rate, 1
    )


def garbage_loop(fps, size):
    """Random NAL units with no SPS/PPS: valid RTP, undecodable payload."""
    payloads = []
    for index in range(fps):
        body = os.urandom(size).replace(b"\x00", b"\x5a")  # no zero bytes: no start codes inside
        header = b"\x65" if index == 0 else b"\x41"  # IDR / non-IDR slice that reference no PPS
        payloads.append(b"\x00\x00\x00\x01" + header + body)
    return UnitLoop(payloads, [i == 0 for i in range(fps)], 1, fps, fps)


class WallClockFeeder:
    """Feeds one appsrc from a UnitLoop, one unit per need-data, aligned to the wall clock.

    A buffer's PTS is the running time at which it must leave: `unix_ns(k) + offset`, with
    offset = running time - Unix time. The RTP sinks of the RTSP server sync on it (and the
    clocksync after the appsrc paces the source the same way), so unit k leaves at Unix time
    unix_ns(k). A new media starts at the next unit boundary of `align` (the next GOP: at most
    one second of wait) because a PTS in the past would be negative for a fresh pipeline.

    PTS run on across loops, and the offset is a whole millisecond while unix_ns is rounded up,
    so the payloader's RTP timestamps (90 kHz, or the audio rate) advance by exactly the same
    number of ticks every unit.
    """

    def __init__(self, appsrc, loop):
        self.appsrc = appsrc
        self.loop = loop
        self.k = None
        self.offset_ns = 0

    def _mapping_ns(self):
        clock = self.appsrc.get_clock() or Gst.SystemClock.obtain()
        running = clock.get_time() - self.appsrc.get_base_time()
        return running - time.time_ns()

    def _anchor(self, mapping_ns):
        loop = self.loop
        self.offset_ns = mapping_ns // MS * MS
        # The millisecond rounding may put unit `first` a hair before running time zero; with
        # B-frames its DTS is `delay` units earlier still.
        first = loop.first_unit_after_unix_ns(time.time_ns() + MS + loop.unix_ns(loop.delay))
        # Running time stops while a pipeline is paused: after that, skip what the wall clock
        # has passed (a gap, as from a real camera), never go back.
        self.k = max(first, self.k or 0)

    def on_need_data(self, appsrc, _length):
        loop = self.loop
        if self.k is None:
            self._anchor(self._mapping_ns())
        elif self.k % loop.align == 0:
            mapping = self._mapping_ns()
            if abs(mapping - self.offset_ns) > REANCHOR_NS:
                self._anchor(mapping)
        index = self.k % len(loop.buffers)
        buf = Gst.Buffer.new_wrapped_bytes(loop.buffers[index])
        if loop.order is None:
            buf.pts = buf.dts = loop.unix_ns(self.k) + self.offset_ns
        else:
            # Sent in decode order, each at its DTS; the PTS says when it is shown.
            buf.pts = loop.unix_ns(self.k - index + loop.order[index]) + self.offset_ns
            buf.dts = loop.unix_ns(self.k - loop.delay) + self.offset_ns
        buf.duration = loop.unix_ns(self.k + 1) - loop.unix_ns(self.k)
        if not loop.keyframes[index]:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        self.k += 1
        appsrc.emit("push-buffer", buf)


class StallGate:
    """The `stall` fault: after `after_s` of streaming drop every packet; optionally resume after
    `resume_s`, from the next keyframe so the client's decoder restarts cleanly.

    It sits on the payloaders' sink pads, so the sources keep their real-time pace and the PTS
    after a resume jump by the stall's length, as with a real camera whose encoder froze. RTSP
    keep-alive replies and RTCP go on: the socket stays open and looks healthy.
    """

    def __init__(self, camera, mount, after_s, resume_s):
        self.camera = camera
        self.mount = mount
        self.after_ns = int(after_s * NS)
        self.resume_ns = None if resume_s is None else int(resume_s * NS)
        self.started = None
        self.state = "open"  # open -> stalled -> (waiting for a keyframe ->) resumed
        self.lock = threading.Lock()

    def probe(self, _pad, info, is_video):
        buf = info.get_buffer()
        now = time.monotonic_ns()
        with self.lock:
            if self.started is None:
                self.started = now
            elapsed = now - self.started
            if self.state == "open" and elapsed >= self.after_ns:
                self.state = "stalled"
                emit("stall", camera=self.camera, mount=self.mount)
            if (
                self.state == "stalled"
                and self.resume_ns is not None
                and elapsed >= self.after_ns + self.resume_ns
            ):
                self.state = "keyframe"
            # Audio waits for the video keyframe too, so both come back together.
            if (
                self.state == "keyframe"
                and is_video
                and not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)
            ):
                self.state = "resumed"
                emit("resume", camera=self.camera, mount=self.mount)
            passing = self.state in ("open", "resumed")
        return Gst.PadProbeReturn.OK if passing else Gst.PadProbeReturn.DROP


H264_CAPS = "video/x-h264,stream-format=byte-stream,alignment=au"
H265_CAPS = "video/x-h265,stream-format=byte-stream,alignment=au"


def mount_launch(mount, garbage):
    """The launch line of one mount. pay0 is video, pay1 the optional audio."""
    parts = []
    fps = mount["fps"]
    h265 = mount.get("codec") == "h265"
    if garbage:
        parts.append(
            f"appsrc name=video is-live=true format=time caps={H264_CAPS} "
            "! clocksync ! rtph264pay name=pay0 pt=96"
        )
    elif mount["source"] == "pattern":
        parts.append(
            "videotestsrc is-live=true pattern=ball "
            f"! video/x-raw,width={mount['width']},height={mount['height']},framerate={fps}/1 "
            f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bframes=0 "
            f"bitrate={mount['bitrate_kbps']} option-string=repeat-headers=1 ! h264parse "
            "! rtph264pay name=pay0 pt=96 config-interval=1"
        )
    elif h265:
        parts.append(
            f"appsrc name=video is-live=true format=time caps={H265_CAPS},framerate={fps}/1 "
            "! clocksync ! h265parse ! rtph265pay name=pay0 pt=96 config-interval=1"
        )
    else:
        parts.append(
            f"appsrc name=video is-live=true format=time caps={H264_CAPS},framerate={fps}/1 "
            "! clocksync ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1"
        )
    if mount.get("audio"):
        parts.append(
            "appsrc name=audio is-live=true format=time "
            "caps=audio/mpeg,mpegversion=4,stream-format=adts "
            "! clocksync ! aacparse ! rtpmp4gpay name=pay1 pt=97"
        )
    return "( " + "  ".join(parts) + " )"


class Camera:
    def __init__(self, config, loops, host):
        self.name = config["name"]
        self.fault = config.get("fault") or {}
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(config.get("port", 0)))
        auth = config.get("auth")
        mounts = self.server.get_mount_points()
        for mount_name, mount in config["mounts"].items():
            factory = self._factory(mount_name, mount, loops, auth is not None)
            mounts.add_factory(f"/{mount_name}", factory)
        if auth is not None:
            self.server.set_auth(make_auth(auth["user"], auth["password"]))
        if self.server.attach(None) == 0:
            raise RuntimeError(f"camera {self.name}: cannot listen on {host}:{config.get('port')}")
        self.port = self.server.get_bound_port()
        if self.fault.get("kind") == "drop":
            GLib.timeout_add(int(self.fault["every_s"] * 1000), self._drop_clients)

    def _factory(self, mount_name, mount, loops, with_auth):
        factory = GstRtspServer.RTSPMediaFactory()
        garbage = self.fault.get("kind") == "garbage"
        factory.set_launch(mount_launch(mount, garbage))
        # One pipeline per mount however many clients watch: the recorder and a baseline ffmpeg
        # must see the same packets, and a camera's cost must not grow with its viewers.
        factory.set_shared(True)
        if with_auth:
            permissions = GstRtspServer.RTSPPermissions()
            permissions.add_permission_for_role("viewer", "media.factory.access", True)
            permissions.add_permission_for_role("viewer", "media.factory.construct", True)
            factory.set_permissions(permissions)
        factory.connect("media-configure", self._on_media_configure, mount_name, mount, loops)
        return factory

    def _on_media_configure(self, _factory, media, mount_name, mount, loops):
        element = media.get_element()
        video_src = element.get_by_name("video")
        if video_src is not None:
            if self.fault.get("kind") == "garbage":
                loop = loops.garbage(mount["fps"], mount.get("garbage_bytes", 4000))
            else:
                loop = loops.video(mount)
            feeder = WallClockFeeder(video_src, loop)
            video_src.connect("need-data", feeder.on_need_data)
        audio_src = element.get_by_name("audio")
        if audio_src is not None:
            feeder = WallClockFeeder(audio_src, loops.adts(mount["audio"]))
            audio_src.connect("need-data", feeder.on_need_data)
        if self.fault.get("kind") == "stall":
            gate = StallGate(
                self.name, mount_name, self.fault["after_s"], self.fault.get("resume_after_s")
            )
            for pay_name, is_video in (("pay0", True), ("pay1", False)):
                pay = element.get_by_name(pay_name)
                if pay is not None:
                    pay.get_static_pad("sink").add_probe(
                        Gst.PadProbeType.BUFFER, gate.probe, is_video
                    )
        media.connect("prepared", _sender_reports_from_capture_time)
        emit("media", camera=self.name, mount=mount_name)

    def _drop_clients(self):
        dropped = []

        def remove(_server, client, _user_data):
            dropped.append(client)
            return GstRtspServer.RTSPFilterResult.REMOVE

        self.server.client_filter(remove, None)
        emit("drop", camera=self.name, clients=len(dropped))
        return GLib.SOURCE_CONTINUE


def _sender_reports_from_capture_time(media):
    """Map RTP to NTP time in RTCP sender reports from the buffers' timestamps, not send times.

    By default rtpbin pairs a packet's RTP timestamp with the moment it left, so on a busy
    machine each stream's mapping is off by its own lateness, and FFmpeg, which re-bases a
    two-stream session on the first reports, shifts the video PTS by the difference. Timestamps
    here are wall-clock exact (WallClockFeeder), so capture time gives exact, load-free reports.
    """
    pipeline = media.get_element().get_parent()
    if pipeline is None:
        return
    for element in pipeline.iterate_elements():
        factory = element.get_factory()
        if factory is not None and factory.get_name() == "rtpbin":
            element.set_property("rtcp-sync-send-time", False)


def make_auth(user, password):
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "viewer")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    auth.add_digest(user, password, token)
    _offer_basic_and_digest(auth)
    return auth


def _offer_basic_and_digest(auth):
    """Offer both schemes, as most IP cameras do (clients such as FFmpeg then pick digest).

    The method set is a bitmask typed as an enum, and PyGObject refuses BASIC | DIGEST, so call the
    C function directly. If that fails, basic alone (the library default) is still offered.
    """
    try:
        lib = ctypes.CDLL("libgstrtspserver-1.0.so.0")
        get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
        get_pointer.restype = ctypes.c_void_p
        get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        lib.gst_rtsp_auth_set_supported_methods.argtypes = [ctypes.c_void_p, ctypes.c_int]
        methods = int(GstRtsp.RTSPAuthMethod.BASIC) | int(GstRtsp.RTSPAuthMethod.DIGEST)
        lib.gst_rtsp_auth_set_supported_methods(get_pointer(auth.__gpointer__, None), methods)
    except (OSError, AttributeError, ValueError) as exc:
        log(f"digest authentication unavailable, offering basic only: {exc}")


class LoopCache:
    """Encoded files are loaded once however many cameras and media play them."""

    def __init__(self):
        self._loops = {}
        self._lock = threading.Lock()

    def _get(self, key, make):
        with self._lock:
            if key not in self._loops:
                self._loops[key] = make()
            return self._loops[key]

    def video(self, mount):
        path, fps = mount["video"], mount["fps"]
        gop, codec, order = mount.get("gop", fps), mount.get("codec", "h264"), mount.get("order")
        return self._get(("video", path), lambda: load_video_loop(path, fps, gop, codec, order))

    def adts(self, path):
        return self._get(("adts", path), lambda: load_adts_loop(path))

    def garbage(self, fps, size):
        return self._get(("garbage", fps, size), lambda: garbage_loop(fps, size))


def preload(config, loops):
    """Load and check every file up front, so a bad file fails the start instead of a client."""
    for camera in config["cameras"]:
        for mount in camera["mounts"].values():
            if mount["source"] == "file":
                loops.video(mount)
            if mount.get("audio"):
                loops.adts(mount["audio"])


def main():
    Gst.init(None)
    main_loop = GLib.MainLoop()
    try:
        config = json.loads(sys.stdin.buffer.readline())
        loops = LoopCache()
        preload(config, loops)
        cameras = [Camera(c, loops, config.get("host", "127.0.0.1")) for c in config["cameras"]]
    except Exception as exc:  # report any setup failure to the parent, whatever it is
        emit("error", message=f"{type(exc).__name__}: {exc}")
        return 2

    def on_stdin(fd, _condition):
        if not os.read(fd, 4096):
            main_loop.quit()
            return GLib.SOURCE_REMOVE
        return GLib.SOURCE_CONTINUE

    def on_signal():
        main_loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.io_add_watch(
        sys.stdin.fileno(),
        GLib.PRIORITY_DEFAULT,
        GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR,
        on_stdin,
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, on_signal)
    emit("ready", cameras=[{"name": c.name, "port": c.port} for c in cameras])
    main_loop.run()
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    # Streaming threads may still be running; there is nothing to save, so leave at once.
    os._exit(status)
