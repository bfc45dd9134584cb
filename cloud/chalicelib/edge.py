"""The client's address behind CloudFront: believed only from CloudFront itself.

On AWS the PWA reaches the REST API through its CloudFront distribution (infra/components/web.py),
so API Gateway's source address is one of CloudFront's servers, shared by everyone that edge
serves: per-address login throttling and the audit log need the viewer's. CloudFront sends it in
`CloudFront-Viewer-Address` ("IP:port"), but anyone calling execute-api directly could send that
header too; so the distribution also adds `X-SkyCam-Edge`, a secret generated at deploy, and only
a request that carries it gets its address from the header. Without the setting (the local host,
a relay without CloudFront) the source address is the answer.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .errors import StorageError

EDGE_HEADER = "X-SkyCam-Edge"
VIEWER_ADDRESS_HEADER = "CloudFront-Viewer-Address"


class EdgeCheck:
    """`secret` gives the edge secret (read once, when first needed); None: no edge."""

    def __init__(self, secret: Callable[[], str] | None) -> None:
        self._secret = secret
        self._value: bytes | None = None

    def address(self, headers: Mapping[str, str], source: str) -> str:
        viewer = _header(headers, VIEWER_ADDRESS_HEADER)
        proof = _header(headers, EDGE_HEADER)
        if self._secret is None or not viewer or not proof:
            return source
        if self._value is None:
            self._value = self._secret().encode()
        if not hmac.compare_digest(proof.encode(), self._value):
            return source
        # "IP:port", the IPv6 form without brackets: the port is after the last colon.
        host = viewer.rsplit(":", 1)[0].strip("[]")
        return host or source


def secrets_manager_edge_secret(client: Any, secret_id: str) -> Callable[[], str]:
    def read() -> str:
        try:
            value = str(client.get_secret_value(SecretId=secret_id)["SecretString"])
        except (ClientError, BotoCoreError, KeyError) as exc:
            raise StorageError(f"cannot read the edge secret: {exc}") from exc
        if len(value) < 32:
            raise StorageError("the edge secret is shorter than 32 characters")
        return value

    return read


def _header(headers: Mapping[str, str], name: str) -> str:
    """Chalice's headers are case-insensitive; a plain mapping may not be."""
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value or ""
