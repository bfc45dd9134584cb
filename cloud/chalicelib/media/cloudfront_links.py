"""Download links through CloudFront (AWS): URLs signed with a custom policy whose resource is a
whole prefix (`https://*/media/RID/MSID/*`), so one RSA signature per links call covers every
object the device may fetch in that prefix until the policy expires.

Why signed URLs and not signed cookies (docs/design/remote-media.md): a URL works wherever the
device fetches (the page, the service worker, a script), needs no cookie jar, no `Set-Cookie`
through API Gateway and CloudFront, and no cookie per session path; the links API and the
browser's loader stay the ones the local host serves.

Links are origin-relative (`/media/...?Policy=...`): the PWA, `/v1` and the media are paths of
one distribution, so the browser fetches them same-origin (no CORS). The relay cannot name the
distribution's host itself (the distribution's API origin depends on the relay's functions, so
the functions' environment cannot depend on the distribution), hence the host wildcard: the key
is trusted by this distribution alone. A `*` also spans `/`, so the policy would match a path
ending in `/media/RID/MSID/NAME` under another prefix too; the only other signed paths are
`thumbnails/RID/...`, and no recorder can upload `thumbnails/media/...` (a recorder id is 26
base32 characters).

The private key is the RSA half of the pair infra/ makes at deploy time (KMS
GenerateDataKeyPair, components/secrets.py), read once from Secrets Manager
(`{"private_key_pem", "public_key_pem"}`); its public half is the CloudFront public key
`key_pair_id`. Neither the key nor a signature is ever logged.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..clock import Clock
from ..errors import StorageError
from ..storage.objects import check_key

# Any host: the distribution is the only one whose key group holds this key (see above).
RESOURCE_ORIGIN = "https://*/"


class RsaKeySource(Protocol):
    def private_key(self) -> rsa.RSAPrivateKey:
        """The signing key, the same on every call and every instance."""


class SecretsManagerRsaKey:
    """The private key from its secret, read on first use and kept for the process."""

    def __init__(self, client: Any, secret_id: str) -> None:
        self._client = client
        self._id = secret_id
        self._key: rsa.RSAPrivateKey | None = None
        self._lock = threading.Lock()

    def private_key(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._key is None:
                self._key = self._load()
            return self._key

    def _load(self) -> rsa.RSAPrivateKey:
        try:
            value = self._client.get_secret_value(SecretId=self._id)["SecretString"]
            pem = str(json.loads(value)["private_key_pem"]).encode()
        except (ClientError, BotoCoreError, KeyError, ValueError, TypeError) as exc:
            # The exception's type only: its text could quote the secret's value.
            raise StorageError(f"cannot read the CloudFront key: {type(exc).__name__}") from exc
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise StorageError("the CloudFront key is not a PEM private key") from exc
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
            raise StorageError("the CloudFront key is not an RSA key of at least 2048 bits")
        return key


class CloudFrontLinks:
    def __init__(self, key_pair_id: str, key: RsaKeySource, clock: Clock) -> None:
        self._key_pair_id = key_pair_id
        self._key = key
        self._clock = clock

    def _rsa_sha1(self, message: bytes) -> bytes:
        # CloudFront verifies RSA-SHA1 (PKCS #1 v1.5) signatures of the policy by default.
        return self._key.private_key().sign(message, padding.PKCS1v15(), hashes.SHA1())

    def grant(self, prefix: str, expires_at: int) -> str:
        """The query string (`Policy=...&Signature=...&Key-Pair-Id=...`) that opens every object
        under `prefix` until `expires_at` (epoch seconds)."""
        check_key(prefix.rstrip("/"))
        signer = CloudFrontSigner(self._key_pair_id, self._rsa_sha1)
        resource = f"{RESOURCE_ORIGIN}{prefix}*"
        policy = signer.build_policy(resource, datetime.fromtimestamp(expires_at, UTC))
        signed: str = signer.generate_presigned_url(resource, policy=policy)
        return signed.split("?", 1)[1]

    def sign(self, scopes: Mapping[str, Sequence[str]], expires_s: int) -> dict[str, str]:
        expires_at = int(self._clock.now()) + expires_s
        links = {}
        for prefix, keys in scopes.items():
            query = self.grant(prefix, expires_at)
            for key in keys:  # a key outside `prefix` would get a link CloudFront refuses
                links[key] = f"/{quote(check_key(key))}?{query}"
        return links
