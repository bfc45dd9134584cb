"""`Sender`: posting to a WebSocket connection by id. In AWS and on the local host both, the
adapter is Chalice's `websocket_api` (API Gateway's management API, which the local host serves
too); tests of the router alone use the recording fake."""

from __future__ import annotations

import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Sender(Protocol):
    def send(self, conn_id: str, text: str) -> bool:
        """Post one text message; False if the connection is gone."""

    def close(self, conn_id: str) -> None:
        """Close the connection (no error if it is gone)."""


class ChaliceSender:
    def __init__(self, websocket_api: Any) -> None:
        self._api = websocket_api

    def send(self, conn_id: str, text: str) -> bool:
        from chalice.app import WebsocketDisconnectedError

        try:
            self._api.send(conn_id, text)
        except WebsocketDisconnectedError:
            return False
        return True

    def close(self, conn_id: str) -> None:
        from chalice.app import WebsocketDisconnectedError

        try:
            self._api.close(conn_id)
        except WebsocketDisconnectedError:
            log.debug("close: connection %s already gone", conn_id)


class RecordingSender:
    """A fake that keeps what was sent, per connection."""

    def __init__(self) -> None:
        self.sent: dict[str, list[str]] = {}
        self.closed: list[str] = []
        self.gone: set[str] = set()

    def send(self, conn_id: str, text: str) -> bool:
        if conn_id in self.gone:
            return False
        self.sent.setdefault(conn_id, []).append(text)
        return True

    def close(self, conn_id: str) -> None:
        self.closed.append(conn_id)
        self.gone.add(conn_id)
