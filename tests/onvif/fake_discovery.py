"""A WS-Discovery responder on 127.0.0.1: answers Probes for NetworkVideoTransmitter with a
ProbeMatches naming one device, by unicast to the sender, as a camera does."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from xml.etree import ElementTree as ET

MATCHES = """<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
  xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
  xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
  xmlns:dn="http://www.onvif.org/ver10/network/wsdl"
  xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
 <SOAP-ENV:Header>
  <wsa:MessageID>urn:uuid:{reply_id}</wsa:MessageID>
  <wsa:RelatesTo>{relates_to}</wsa:RelatesTo>
  <wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
  <wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>
  <d:AppSequence InstanceId="1" MessageNumber="{number}"/>
 </SOAP-ENV:Header>
 <SOAP-ENV:Body>
  <d:ProbeMatches>
   <d:ProbeMatch>
    <wsa:EndpointReference><wsa:Address>{address}</wsa:Address></wsa:EndpointReference>
    <d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
    <d:Scopes>{scopes}</d:Scopes>
    <d:XAddrs>{xaddrs}</d:XAddrs>
    <d:MetadataVersion>1</d:MetadataVersion>
   </d:ProbeMatch>
  </d:ProbeMatches>
 </SOAP-ENV:Body>
</SOAP-ENV:Envelope>"""


SCOPES = " ".join(
    "onvif://www.onvif.org/" + scope
    for scope in ("type/video_encoder", "name/Porch_Cam", "hardware/Cam%203000", "location/nowhere")
)


class DiscoveryResponder:
    def __init__(self, xaddrs: str, address: str | None = None) -> None:
        self.xaddrs = xaddrs
        self.address = address or f"urn:uuid:{uuid.uuid4()}"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.probes: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            message_id = _probe_id(data)
            if message_id is None:
                continue
            self.probes.append(message_id)
            reply = MATCHES.format(
                reply_id=uuid.uuid4(),
                relates_to=message_id,
                number=len(self.probes),
                address=self.address,
                xaddrs=self.xaddrs,
                scopes=SCOPES,
            )
            self.sock.sendto(reply.encode(), sender)

    def start(self) -> DiscoveryResponder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _probe_id(data: bytes) -> str | None:
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    if not any(el.tag.endswith("}Probe") for el in root.iter()):
        return None
    types = " ".join(el.text or "" for el in root.iter() if el.tag.endswith("}Types"))
    if "NetworkVideoTransmitter" not in types:
        return None
    return next((el.text for el in root.iter() if el.tag.endswith("}MessageID")), None)


@contextmanager
def responder(xaddrs: str) -> Iterator[DiscoveryResponder]:
    running = DiscoveryResponder(xaddrs).start()
    try:
        yield running
    finally:
        running.stop()
