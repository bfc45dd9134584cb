"""A fake ONVIF camera: real SOAP 1.2 over HTTP on 127.0.0.1, enough for SkyCam's client.

Device management (GetDeviceInformation, GetServices or GetCapabilities, GetSystemDateAndTime),
media (GetProfiles, GetStreamUri, GetSnapshotUri, a JPEG snapshot), events (PullPoint:
CreatePullPointSubscription, PullMessages with CellMotionDetector notifications, Renew,
Unsubscribe, SetSynchronizationPoint) and PTZ (a head whose position and presets change:
tests/onvif/fake_ptz.py).
Requests must carry a valid WS-UsernameToken digest, as on a real camera. Every call is
recorded, so tests can assert what the client did.
"""

from __future__ import annotations

import base64
import hashlib
import queue
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.etree import ElementTree as ET

import cv2
import numpy as np

from tests.onvif.fake_ptz import PTZ_OPERATIONS, FakePtz, PtzFault

NS = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:tev="http://www.onvif.org/ver10/events/wsdl" '
    'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" '
    'xmlns:wsa="http://www.w3.org/2005/08/addressing" '
    'xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" '
    'xmlns:tns1="http://www.onvif.org/ver10/topics" '
    'xmlns:ter="http://www.onvif.org/ver10/error">'
    "<env:Body>{body}</env:Body></env:Envelope>"
)
MOTION_TOPIC = "tns1:RuleEngine/CellMotionDetector/Motion"


@dataclass(frozen=True)
class FakeProfile:
    token: str
    name: str
    width: int
    height: int
    uri: str


@dataclass
class FakeCamera:
    """What the fake device says about itself; change before or while it serves."""

    user: str = "admin"
    password: str = "secret"
    manufacturer: str = "Acme"
    model: str = "Cam 3000"
    serial: str = "AC-0001"
    firmware: str = "1.2.3"
    profiles: tuple[FakeProfile, ...] = ()
    ptz: bool = True
    events: bool = True
    get_services: bool = True  # False: GetServices faults, clients fall back to GetCapabilities
    termination_s: int = 60
    head: FakePtz = field(default_factory=FakePtz)  # position and presets
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    notifications: queue.Queue[tuple[str, bool]] = field(default_factory=queue.Queue)
    subscriptions: dict[str, bool] = field(default_factory=dict)  # path -> alive

    def push_motion(self, moving: bool, topic: str = MOTION_TOPIC) -> None:
        self.notifications.put((topic, moving))

    def called(self, operation: str) -> list[dict[str, str]]:
        return [args for name, args in list(self.calls) if name == operation]


class FakeOnvifDevice:
    def __init__(self, camera: FakeCamera | None = None, host: str = "127.0.0.1") -> None:
        """`host`: a loopback address to listen on (another than 127.0.0.1 is a camera at an
        address of its own, as on a LAN)."""
        self.camera = camera or FakeCamera()
        self.host = host
        self._server = ThreadingHTTPServer((host, 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._sub_counter = 0
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeOnvifDevice:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def new_subscription(self) -> str:
        with self._lock:
            self._sub_counter += 1
            path = f"/onvif/subscription/{self._sub_counter}"
        self.camera.subscriptions[path] = True
        return path


@contextmanager
def fake_device(
    camera: FakeCamera | None = None, host: str = "127.0.0.1"
) -> Iterator[FakeOnvifDevice]:
    device = FakeOnvifDevice(camera, host).start()
    try:
        yield device
    finally:
        device.stop()


def _handler_for(device: FakeOnvifDevice) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path != "/onvif/snapshot.jpg":
                self._send(404, b"", "text/plain")
                return
            device.camera.calls.append(("Snapshot", {}))
            self._send(200, _snapshot_jpeg(), "image/jpeg")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            try:
                root = ET.fromstring(body)
            except ET.ParseError:
                self._send(400, b"not XML", "text/plain")
                return
            operation, args = _operation(root)
            request = _request(root)
            device.camera.calls.append((operation, args))
            if operation != "GetSystemDateAndTime" and not _authorised(root, device.camera):
                self._fault(400, "ter:NotAuthorized", "Sender not Authorized")
                return
            try:
                status, answer = _answer(device, self.path, operation, args, request)
            except _Fault as fault:
                self._fault(fault.status, fault.code, fault.reason)
                return
            self._send(status, ENVELOPE.format(body=answer).encode(), "application/soap+xml")

        def _fault(self, status: int, code: str, reason: str) -> None:
            body = (
                "<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode>"
                f"<env:Value>{code}</env:Value></env:Subcode></env:Code><env:Reason>"
                f'<env:Text xml:lang="en">{reason}</env:Text></env:Reason></env:Fault>'
            )
            self._send(status, ENVELOPE.format(body=body).encode(), "application/soap+xml")

        def _send(self, status: int, payload: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up on a long poll (shutdown): nothing to answer

    return Handler


class _Fault(Exception):
    def __init__(self, status: int, code: str, reason: str) -> None:
        self.status, self.code, self.reason = status, code, reason


def _operation(root: ET.Element) -> tuple[str, dict[str, str]]:
    body = root.find("env:Body", NS)
    if body is None or len(body) == 0:
        return "", {}
    request = body[0]
    args: dict[str, str] = {}
    for element in request.iter():
        if element is request:
            continue
        name = element.tag.split("}")[-1]
        for attr, value in element.attrib.items():
            args[f"{name}.{attr}"] = value
        if element.text and element.text.strip():
            args[name] = element.text.strip()
    return request.tag.split("}")[-1], args


def _request(root: ET.Element) -> ET.Element:
    body = root.find("env:Body", NS)
    return body[0] if body is not None and len(body) else ET.Element("none")


def _authorised(root: ET.Element, camera: FakeCamera) -> bool:
    token = root.find("env:Header/wsse:Security/wsse:UsernameToken", NS)
    if token is None:
        return False
    user = token.findtext("wsse:Username", "", NS)
    password = token.findtext("wsse:Password", "", NS)
    nonce = token.findtext("wsse:Nonce", "", NS)
    created = token.findtext("wsu:Created", "", NS)
    digest = hashlib.sha1(base64.b64decode(nonce) + created.encode() + camera.password.encode())
    expected = base64.b64encode(digest.digest()).decode()
    return user == camera.user and password == expected


def _now(offset_s: float = 0) -> str:
    when = datetime.now(UTC) + timedelta(seconds=offset_s)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration_s(text: str, default: float) -> float:
    match = re.fullmatch(r"PT(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", text or "")
    if not match or not any(match.groups()):
        return default
    return int(match.group(1) or 0) * 60 + float(match.group(2) or 0)


def _answer(
    device: FakeOnvifDevice, path: str, operation: str, args: dict[str, str], request: ET.Element
) -> tuple[int, str]:
    cam, base = device.camera, device.base
    if operation == "GetSystemDateAndTime":
        now = datetime.now(UTC)
        return 200, (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            f"<tt:UTCDateTime><tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}"
            f"</tt:Minute><tt:Second>{now.second}</tt:Second></tt:Time><tt:Date><tt:Year>"
            f"{now.year}</tt:Year><tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day>"
            "</tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )
    if operation == "GetDeviceInformation":
        return 200, (
            f"<tds:GetDeviceInformationResponse><tds:Manufacturer>{cam.manufacturer}"
            f"</tds:Manufacturer><tds:Model>{cam.model}</tds:Model><tds:FirmwareVersion>"
            f"{cam.firmware}</tds:FirmwareVersion><tds:SerialNumber>{cam.serial}"
            "</tds:SerialNumber><tds:HardwareId>HW-1</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        )
    if operation == "GetServices":
        if not cam.get_services:
            raise _Fault(400, "ter:ActionNotSupported", "GetServices not supported")
        return 200, "<tds:GetServicesResponse>" + "".join(
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{base}{where}"
            "</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor>"
            "</tds:Version></tds:Service>"
            for ns, where in _services(cam)
        ) + "</tds:GetServicesResponse>"
    if operation == "GetCapabilities":
        return 200, _capabilities(cam, base)
    if operation == "GetProfiles":
        return 200, "<trt:GetProfilesResponse>" + "".join(
            _profile(p, cam.ptz) for p in cam.profiles
        ) + "</trt:GetProfilesResponse>"
    if operation == "GetStreamUri":
        token = args.get("ProfileToken", "")
        profile = next((p for p in cam.profiles if p.token == token), None)
        if profile is None:
            raise _Fault(400, "ter:NoProfile", "no such profile")
        return 200, (
            f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{profile.uri}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false"
            "</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>"
            "</trt:GetStreamUriResponse>"
        )
    if operation == "GetSnapshotUri":
        return 200, (
            f"<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>{base}/onvif/snapshot.jpg"
            "</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
            "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>"
            "</trt:MediaUri></trt:GetSnapshotUriResponse>"
        )
    if operation == "CreatePullPointSubscription":
        if not cam.events:
            raise _Fault(400, "ter:ActionNotSupported", "no events")
        sub = device.new_subscription()
        return 200, (
            "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
            f"<wsa:Address>{base}{sub}</wsa:Address></tev:SubscriptionReference>"
            f"<wsnt:CurrentTime>{_now()}</wsnt:CurrentTime><wsnt:TerminationTime>"
            f"{_now(cam.termination_s)}</wsnt:TerminationTime>"
            "</tev:CreatePullPointSubscriptionResponse>"
        )
    if operation in ("PullMessages", "Renew", "Unsubscribe", "SetSynchronizationPoint"):
        if not cam.subscriptions.get(path):
            raise _Fault(400, "ter:InvalidArgVal", "unknown subscription")
        return 200, _subscription_call(cam, path, operation, args)
    if operation in PTZ_OPERATIONS:
        if not cam.ptz:
            raise _Fault(400, "ter:ActionNotSupported", "no PTZ")
        try:
            return 200, cam.head.answer(operation, request)
        except PtzFault as fault:
            raise _Fault(400, fault.code, fault.reason) from fault
    raise _Fault(400, "ter:ActionNotSupported", f"{operation} not supported")


def _subscription_call(cam: FakeCamera, path: str, operation: str, args: dict[str, str]) -> str:
    if operation == "Renew":
        return (
            f"<wsnt:RenewResponse><wsnt:TerminationTime>{_now(cam.termination_s)}"
            f"</wsnt:TerminationTime><wsnt:CurrentTime>{_now()}</wsnt:CurrentTime>"
            "</wsnt:RenewResponse>"
        )
    if operation == "Unsubscribe":
        cam.subscriptions[path] = False
        return "<wsnt:UnsubscribeResponse/>"
    if operation == "SetSynchronizationPoint":
        return "<tev:SetSynchronizationPointResponse/>"
    wait = min(_duration_s(args.get("Timeout", ""), 1.0), 5.0)
    limit = int(args.get("MessageLimit", "10"))
    messages: list[tuple[str, bool]] = []
    deadline = time.monotonic() + wait
    while len(messages) < limit:
        try:
            left = deadline - time.monotonic()
            item = cam.notifications.get(timeout=max(left, 0) if not messages else 0.05)
        except queue.Empty:
            break
        messages.append(item)
    return (
        f"<tev:PullMessagesResponse><tev:CurrentTime>{_now()}</tev:CurrentTime>"
        f"<tev:TerminationTime>{_now(cam.termination_s)}</tev:TerminationTime>"
        + "".join(_notification(topic, moving) for topic, moving in messages)
        + "</tev:PullMessagesResponse>"
    )


def _notification(topic: str, moving: bool) -> str:
    name = "IsMotion" if "CellMotionDetector" in topic else "State"
    return (
        "<wsnt:NotificationMessage><wsnt:Topic "
        'Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
        f"{topic}</wsnt:Topic><wsnt:Message>"
        f'<tt:Message UtcTime="{_now()}" PropertyOperation="Changed"><tt:Source>'
        '<tt:SimpleItem Name="VideoSourceConfigurationToken" Value="vsc"/>'
        '<tt:SimpleItem Name="Rule" Value="MyMotionDetectorRule"/></tt:Source><tt:Data>'
        f'<tt:SimpleItem Name="{name}" Value="{str(moving).lower()}"/></tt:Data></tt:Message>'
        "</wsnt:Message></wsnt:NotificationMessage>"
    )


def _services(cam: FakeCamera) -> list[tuple[str, str]]:
    out = [
        ("http://www.onvif.org/ver10/device/wsdl", "/onvif/device_service"),
        ("http://www.onvif.org/ver10/media/wsdl", "/onvif/media"),
    ]
    if cam.events:
        out.append(("http://www.onvif.org/ver10/events/wsdl", "/onvif/events"))
    if cam.ptz:
        out.append(("http://www.onvif.org/ver20/ptz/wsdl", "/onvif/ptz"))
    return out


def _capabilities(cam: FakeCamera, base: str) -> str:
    events = (
        f"<tt:Events><tt:XAddr>{base}/onvif/events</tt:XAddr><tt:WSSubscriptionPolicySupport>"
        "false</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true"
        "</tt:WSPullPointSupport><tt:WSPausableSubscriptionManagerInterfaceSupport>false"
        "</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>"
        if cam.events
        else ""
    )
    media = (
        f"<tt:Media><tt:XAddr>{base}/onvif/media</tt:XAddr><tt:StreamingCapabilities>"
        "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
        "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
    )
    ptz = f"<tt:PTZ><tt:XAddr>{base}/onvif/ptz</tt:XAddr></tt:PTZ>" if cam.ptz else ""
    return (
        "<tds:GetCapabilitiesResponse><tds:Capabilities>"
        f"<tt:Device><tt:XAddr>{base}/onvif/device_service</tt:XAddr></tt:Device>"
        f"{events}{media}{ptz}</tds:Capabilities></tds:GetCapabilitiesResponse>"
    )


def _profile(profile: FakeProfile, ptz: bool) -> str:
    ptz_config = (
        '<tt:PTZConfiguration token="ptz0"><tt:Name>PTZ</tt:Name><tt:UseCount>2</tt:UseCount>'
        "<tt:NodeToken>node0</tt:NodeToken></tt:PTZConfiguration>"
        if ptz
        else ""
    )
    return (
        f'<trt:Profiles token="{profile.token}" fixed="true"><tt:Name>{profile.name}</tt:Name>'
        '<tt:VideoSourceConfiguration token="vsc"><tt:Name>VSC</tt:Name><tt:UseCount>2'
        "</tt:UseCount><tt:SourceToken>vs0</tt:SourceToken>"
        '<tt:Bounds x="0" y="0" width="1280" height="720"/></tt:VideoSourceConfiguration>'
        f'<tt:VideoEncoderConfiguration token="enc-{profile.token}"><tt:Name>{profile.name}'
        "</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution>"
        f"<tt:Width>{profile.width}</tt:Width><tt:Height>{profile.height}</tt:Height>"
        "</tt:Resolution><tt:Quality>5</tt:Quality><tt:RateControl><tt:FrameRateLimit>15"
        "</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>"
        "2000</tt:BitrateLimit></tt:RateControl><tt:SessionTimeout>PT60S</tt:SessionTimeout>"
        f"</tt:VideoEncoderConfiguration>{ptz_config}</trt:Profiles>"
    )


def _snapshot_jpeg() -> bytes:
    image = np.full((360, 640, 3), 90, np.uint8)
    cv2.rectangle(image, (200, 100), (300, 250), (255, 255, 255), -1)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return bytes(encoded.tobytes())
