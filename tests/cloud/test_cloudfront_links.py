"""Media links in AWS: CloudFront signed URLs whose custom policy covers one media session (or
one recorder's thumbnails), signed with the key from Secrets Manager and checked here against its
public half; the relay wired from its AWS settings under moto; presigned S3 rights on the
bucket's regional host."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from moto import mock_aws

from cloud.chalicelib.clock import FakeClock
from cloud.chalicelib.config import ConfigError, RelayConfig, load_config
from cloud.chalicelib.errors import NoGrant, StorageError
from cloud.chalicelib.media.cloudfront_links import CloudFrontLinks, SecretsManagerRsaKey
from cloud.chalicelib.storage.dynamo_items import create_table
from cloud.chalicelib.tunnel.sender import RecordingSender
from cloud.chalicelib.wiring import build_relay, media_storage_for

from .relay_fixtures import RecorderKey
from .test_router import account_with_grant, connect_recorder, last

KEY_PAIR_ID = "K2JCJMDEHXQW5F"
SECRET = "relay-cloudfront-key"
RID = "a" * 26
MSID = "AAAAAAAAAAAAAAAAAAAAAA"
DISTRIBUTION = "https://d111111abcdef8.cloudfront.net"


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="module")
def key_pair() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, key_pair: rsa.RSAPrivateKey) -> Iterator[Any]:
    """moto's Secrets Manager holding the key pair as infra/'s key pair maker writes it."""
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        secrets = boto3.client("secretsmanager")
        public = key_pair.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        value = {"private_key_pem": pem(key_pair), "public_key_pem": public.decode()}
        secrets.create_secret(Name=SECRET, SecretString=json.dumps(value))
        yield secrets


def cloudfront_b64decode(text: str) -> bytes:
    """CloudFront's URL-safe base64 (`-` for `+`, `_` for `=`, `~` for `/`)."""
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def opened(link: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The link's policy statement, once its signature is verified with the public key as
    CloudFront does (RSA-SHA1, PKCS #1 v1.5, over the policy's JSON bytes)."""
    query = parse_qs(urlsplit(link).query)
    assert set(query) == {"Policy", "Signature", "Key-Pair-Id"}
    assert query["Key-Pair-Id"] == [KEY_PAIR_ID]
    policy = cloudfront_b64decode(query["Policy"][0])
    signature = cloudfront_b64decode(query["Signature"][0])
    key.public_key().verify(signature, policy, padding.PKCS1v15(), hashes.SHA1())
    (statement,) = json.loads(policy)["Statement"]
    return dict(statement)


def test_one_signature_opens_exactly_one_session_until_it_expires(
    aws: Any, key_pair: rsa.RSAPrivateKey
) -> None:
    clock = FakeClock()
    links = CloudFrontLinks(KEY_PAIR_ID, SecretsManagerRsaKey(aws, SECRET), clock)
    prefix = f"media/{RID}/{MSID}/"
    keys = [prefix + "index.m3u8", prefix + "init-0.mp4", prefix + "p00000001.m4s"]
    signed = links.sign({prefix: keys}, 60)
    assert set(signed) == set(keys)
    for key, link in signed.items():
        # Same-origin paths: the PWA, /v1 and the media are one distribution.
        assert link.startswith(f"/{key}?")
        statement = opened(link, key_pair)
        assert statement["Resource"] == f"https://*/{prefix}*"
        assert statement["Condition"] == {"DateLessThan": {"AWS:EpochTime": clock.now() + 60}}
        # What the policy lets CloudFront serve: this session's objects on the distribution,
        # nothing of another session, nothing of the recorder's thumbnails.
        resource = statement["Resource"]
        assert fnmatchcase(DISTRIBUTION + link.split("?")[0], resource)
        assert not fnmatchcase(f"{DISTRIBUTION}/media/{RID}/{'B' * 22}/p1.m4s", resource)
        assert not fnmatchcase(f"{DISTRIBUTION}/thumbnails/{RID}/cam/e1", resource)
    assert len({link.split("?")[1] for link in signed.values()}) == 1  # one signature
    # A policy edited to cover more does not verify.
    query = parse_qs(urlsplit(signed[keys[0]]).query)
    wider = json.dumps(
        {"Statement": [{"Resource": "https://*/media/*", "Condition": statement["Condition"]}]},
        separators=(",", ":"),
    ).encode()
    with pytest.raises(InvalidSignature):
        key_pair.public_key().verify(
            cloudfront_b64decode(query["Signature"][0]), wider, padding.PKCS1v15(), hashes.SHA1()
        )


def test_an_unusable_key_secret_is_a_storage_error_that_quotes_no_secret(aws: Any) -> None:
    clock = FakeClock()
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    cases = {
        "missing": None,
        "not-json": "-----BEGIN PRIVATE KEY----- not json",
        "ec": json.dumps({"private_key_pem": pem(ec.generate_private_key(ec.SECP256R1()))}),
        "weak": json.dumps({"private_key_pem": pem(weak)}),
    }
    for name, value in cases.items():
        if value is not None:
            aws.create_secret(Name=name, SecretString=value)
        links = CloudFrontLinks(KEY_PAIR_ID, SecretsManagerRsaKey(aws, name), clock)
        with pytest.raises(StorageError) as caught:
            links.sign({f"media/{RID}/{MSID}/": [f"media/{RID}/{MSID}/p1.m4s"]}, 60)
        assert "BEGIN" not in str(caught.value) and "not json" not in str(caught.value), name


def aws_config(**overrides: str) -> RelayConfig:
    env = {
        "SKYCAM_RELAY_TABLE": "relay-test",
        "SKYCAM_RELAY_BUCKET": "skycam-media-test",
        "SKYCAM_RELAY_SIGNING_SECRET": "relay-signing",
        "SKYCAM_RELAY_MEDIA_LINKS": "cloudfront",
        "SKYCAM_RELAY_CLOUDFRONT_KEY_SECRET": SECRET,
        "SKYCAM_RELAY_CLOUDFRONT_KEY_PAIR_ID": KEY_PAIR_ID,
        **overrides,
    }
    return load_config({k: v for k, v in env.items() if v})


def test_the_relay_wired_for_aws_signs_links_through_cloudfront(
    aws: Any, key_pair: rsa.RSAPrivateKey
) -> None:
    """Built from its Lambda settings (DynamoDB, S3 and Secrets Manager in moto): a recorder
    opens a media session for an account with a grant; that account's links open that session
    and the recorder's thumbnails, each under its own policy; a stranger gets none."""
    create_table(boto3.client("dynamodb"), "relay-test")
    aws.create_secret(Name="relay-signing", SecretString="k" * 48)
    clock = FakeClock()
    sender = RecordingSender()
    relay = build_relay(aws_config(), sender, clock=clock)
    key = RecorderKey()
    connect_recorder(relay, key, "rec1")
    acct = account_with_grant(relay, key, "owner@example.test")
    relay.router.message("rec1", json.dumps({"t": "media_open", "acct": acct, "kind": "live"}))
    opened_session = last(sender, "rec1")
    prefix = opened_session["upload"]["prefix"]
    # The recorder's upload rights are S3's, on the bucket's regional host.
    assert (
        opened_session["upload"]["url"] == "https://skycam-media-test.s3.eu-west-1.amazonaws.com/"
    )
    thumb = f"thumbnails/{key.rid}/camkey/e7"
    answer = relay.media.links(acct, [prefix + "index.m3u8", thumb])
    assert answer["expires_at"] == clock.now() + relay.config.media_link_s
    media_policy = opened(answer["links"][prefix + "index.m3u8"], key_pair)
    thumb_policy = opened(answer["links"][thumb], key_pair)
    assert media_policy["Resource"] == f"https://*/{prefix}*"
    assert thumb_policy["Resource"] == f"https://*/thumbnails/{key.rid}/*"
    expiry = clock.now() + relay.config.media_link_s
    assert media_policy["Condition"]["DateLessThan"]["AWS:EpochTime"] == expiry
    with pytest.raises(NoGrant):
        relay.media.links("stranger-account-1", [thumb])


@pytest.mark.parametrize(
    "overrides",
    [
        {"SKYCAM_RELAY_MEDIA_LINKS": "s3"},
        {"SKYCAM_RELAY_CLOUDFRONT_KEY_SECRET": ""},
        {"SKYCAM_RELAY_CLOUDFRONT_KEY_PAIR_ID": ""},
        {"SKYCAM_RELAY_STORAGE": "local", "SKYCAM_RELAY_DATA_DIR": "/tmp/x"},
    ],
)
def test_cloudfront_links_need_their_key_and_aws(overrides: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="MEDIA_LINKS"):
        aws_config(**overrides)


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1", "ap-southeast-2"])
def test_presigned_s3_rights_name_the_buckets_regional_host(
    monkeypatch: pytest.MonkeyPatch, region: str
) -> None:
    """botocore's default is the global host, which S3 answers with a 307 for a new bucket
    outside us-east-1: a browser or form POST does not survive that."""
    for name, value in {
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        objects, uploads = media_storage_for(aws_config(), FakeClock())
        host = f"skycam-media-test.s3.{region}.amazonaws.com"
        form = uploads.presign_post(f"media/{RID}/{MSID}/", 1000, 300)
        assert urlsplit(form.url).netloc == host
        link = urlsplit(objects.presign_get(f"media/{RID}/{MSID}/p1.m4s", 60))
        assert link.netloc == host
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in link.query  # SigV4


def test_aws_media_storage_needs_a_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ConfigError, match="region"):
        media_storage_for(aws_config(), FakeClock())
