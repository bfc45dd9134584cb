"""The real stack the PWA's browser tests and bench/web.py run against: simulated cameras, the
real recorder (capture, API, live feeds) serving the built PWA on loopback."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from recorder.config import parse_config
from sim import CameraSpec, Fault, SimCluster
from sim.ground_truth import GroundTruth
from tests.cloud.relay_host import RelayProcess
from tests.e2e.harness import camera_entry
from tests.onvif.conftest import PROFILES
from tests.onvif.fake_device import FakeCamera, FakeProfile, fake_device
from tests.onvif.fake_discovery import responder
from tests.recorder_thread import RecorderThread

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = "/usr/bin/chromium"
# Pre-encoded scenes only: the live-encoded `pattern` scene would take CPU from the browser.
SCENES = ("motion", "idle", "lights")


@dataclass(frozen=True)
class WebStack:
    url: str  # http://127.0.0.1:PORT, the PWA at / and the API under /api/v1
    password: str  # of `admin`
    cameras: tuple[str, ...]
    data_dir: Path
    faulty: str | None  # a camera that drops its clients every few seconds
    relay: str | None  # the local relay's REST URL, when the stack has one (it serves the PWA)
    relay_admin: str | None = None  # the relay admin's password (admin@relay.local)
    relay_max_s: float = 7200  # the relay's connection cap (the PWA rolls over before it)
    # cam1 (the `motion` scene): when its substream shows motion, from the simulator's ground
    # truth: {"period_s": P, "passes": [[start_s, end_s], ...]}, seconds into each period of
    # Unix time (scenes loop on it).
    motion_truth: str = "{}"
    discovery: str = ""  # 127.0.0.1:PORT of a WS-Discovery responder naming cam1's ONVIF service
    # With a relay: a second recorder on the same relay (its own identity, data and admin), with
    # one camera, `yard` (cam2's simulator): one cloud account enrolled with both picks either.
    second_url: str = ""
    second_password: str = ""
    # A camera the recorder does not have yet: its WS-Discovery responder (127.0.0.1:PORT),
    # naming its ONVIF service, whose stream URIs are a simulated camera's; and its password.
    new_camera: str = ""
    new_camera_password: str = ""


def build_web() -> None:
    """Build web/dist unless it is up to date (scripts/build-web.sh; `make test` ran it)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "build-web.sh")], check=True, timeout=300)


@contextmanager
def web_stack(
    data_dir: Path,
    cameras: int = 4,
    faulty: bool = False,
    relay: bool = False,
    relay_max_s: float = 7200,
    second_recorder: bool = False,
) -> Iterator[WebStack]:
    """`cameras` healthy cameras cam1..camN, and with `faulty` one more, `outage`, that drops
    its clients every 12 s (tiles must show the loss and recover by themselves). With `relay`,
    a real local relay (`skycam relay`) the recorder dials, for the remote-access settings and
    remote mode (it serves the PWA too); `relay_max_s` shortens its connection cap so that the
    recorder's and the browser's rollovers happen within a test. `second_recorder` (with
    `relay`) adds another recorder on the same relay (WebStack.second_url)."""
    build_web()
    specs = [CameraSpec(f"cam{i + 1}", SCENES[i % len(SCENES)]) for i in range(cameras)]
    # cam1 has PTZ: a fake ONVIF service on loopback (tests/onvif/fake_device.py), which
    # authenticates with the camera's credentials like a real camera's.
    ptz_password = secrets.token_urlsafe(12)
    specs[0] = CameraSpec("cam1", SCENES[0], user="admin", password=ptz_password)
    if faulty:
        specs.append(CameraSpec("outage", "idle", fault=Fault.drop(12)))
    # `porch` streams but is not configured: the browser finds it by discovery and adds it. Its
    # ONVIF service is at an address of its own (127.0.0.2; every simulated stream is on
    # 127.0.0.1), as a camera on a LAN is: the recorder knows a camera by its address.
    porch_password = secrets.token_urlsafe(12)
    porch = CameraSpec("porch", "idle", user="admin", password=porch_password)
    with ExitStack() as stack:
        relay_process = None
        if relay:
            relay_dir = data_dir.with_name(f"{data_dir.name}-relay")
            relay_dir.mkdir(exist_ok=True)
            relay_process = RelayProcess(relay_dir, max_s=relay_max_s, verbose=False).start()
            stack.callback(relay_process.stop)
        cluster = stack.enter_context(SimCluster([*specs, porch]))
        onvif = stack.enter_context(
            fake_device(FakeCamera(user="admin", password=ptz_password, profiles=PROFILES))
        )
        answering = stack.enter_context(responder(f"{onvif.base}/onvif/device_service"))
        porch_sim = cluster.cameras["porch"]
        porch_profiles = (
            FakeProfile("main", "MainStream", 1280, 720, porch_sim.url("main", credentials=False)),
            FakeProfile("sub", "SubStream", 640, 360, porch_sim.url("sub", credentials=False)),
        )
        porch_onvif = stack.enter_context(
            fake_device(
                FakeCamera(
                    password=porch_password, profiles=porch_profiles, ptz=False, model="Porch 2"
                ),
                host="127.0.0.2",
            )
        )
        porch_answering = stack.enter_context(responder(f"{porch_onvif.base}/onvif/device_service"))
        entries = [camera_entry(s.name, cluster.cameras[s.name]) for s in specs]
        entries[0]["onvif"] = {"host": "127.0.0.1", "port": onvif.port, "timeout_s": 5}
        settings: dict[str, object] = {
            "data_dir": str(data_dir),
            "cameras": entries,
            "api": {"http_port": 0, "https": False},
        }
        if relay_process is not None:
            relay_settings: dict[str, object] = {
                "url": relay_process.rest,
                "ws_url": relay_process.ws,
            }
            if relay_max_s < 7200:  # the recorder rolls over before the cap too
                relay_settings |= {"connection_max_s": relay_max_s * 2 / 3, "rollover_drain_s": 2}
            settings["relay"] = relay_settings
        thread = stack.enter_context(RecorderThread(parse_config(settings)))
        second = None
        if second_recorder and relay_process is not None:
            second_dir = data_dir.with_name(f"{data_dir.name}-second")
            second_dir.mkdir(exist_ok=True)
            yard = camera_entry("cam2", cluster.cameras["cam2"]) | {"id": "yard", "name": "Yard"}
            second_settings = settings | {"data_dir": str(second_dir), "cameras": [yard]}
            second = stack.enter_context(RecorderThread(parse_config(second_settings)))
        yield WebStack(
            thread.http_url,
            thread.admin_password,
            tuple(s.name for s in specs[:cameras]),
            data_dir,
            "outage" if faulty else None,
            relay_process.rest if relay_process else None,
            relay_process.admin_password if relay_process else None,
            relay_max_s,
            _passes(cluster.cameras["cam1"].sub_ground_truth),
            f"127.0.0.1:{answering.port}",
            second.http_url if second else "",
            second.admin_password if second else "",
            f"127.0.0.1:{porch_answering.port}",
            porch_password,
        )


def _passes(truth: GroundTruth | None) -> str:
    if truth is None:
        return "{}"
    passes = [[m.start_s, m.end_s] for m in truth.motion]
    return json.dumps({"period_s": truth.duration_s, "passes": passes})


def playwright_env(stack: WebStack) -> dict[str, str]:
    return os.environ | {
        "SKYCAM_URL": stack.url,
        "SKYCAM_PASSWORD": stack.password,
        "SKYCAM_CAMERAS": ",".join(stack.cameras),
        "SKYCAM_FAULTY": stack.faulty or "",
        "SKYCAM_RELAY": stack.relay or "",
        "SKYCAM_RELAY_ADMIN": stack.relay_admin or "",
        "SKYCAM_RELAY_MAX_S": str(stack.relay_max_s),
        # What the relay stores (remote-media.spec.ts checks it holds no plaintext).
        "SKYCAM_RELAY_DIR": str(stack.data_dir.with_name(f"{stack.data_dir.name}-relay"))
        if stack.relay
        else "",
        "CHROMIUM": CHROMIUM,
        "SKYCAM_MOTION_TRUTH": stack.motion_truth,
        "SKYCAM_DISCOVERY": stack.discovery,
        "SKYCAM_SECOND_URL": stack.second_url,
        "SKYCAM_SECOND_PASSWORD": stack.second_password,
        "SKYCAM_NEW_CAMERA": stack.new_camera,
        "SKYCAM_NEW_CAMERA_PASSWORD": stack.new_camera_password,
    }
