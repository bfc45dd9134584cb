"""The deploy-time key pair maker (lambda_src/keypair.py) and the relay's CloudFront signer,
end to end: the pair the maker stores is the one the relay signs links with, and the public
key it hands CloudFormation (the `AWS::CloudFront::PublicKey`) verifies those links.

Secrets Manager is moto's; KMS's GenerateDataKeyPair (which moto lacks) is stood in for by a
fake that answers as KMS does: a PKCS #8 DER private key and an SPKI DER public key.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from moto import mock_aws

import infra
from cloud.chalicelib.clock import FakeClock
from cloud.chalicelib.media.cloudfront_links import CloudFrontLinks, SecretsManagerRsaKey

SOURCE = Path(infra.__file__).parent / "lambda_src" / "keypair.py"
PREFIX = f"media/{'a' * 26}/{'A' * 22}/"


class FakeKms:
    """GenerateDataKeyPair as KMS answers it (RSA_2048 only)."""

    def __init__(self) -> None:
        self.calls = 0

    def generate_data_key_pair(self, KeyId: str, KeyPairSpec: str) -> dict[str, Any]:
        assert KeyPairSpec == "RSA_2048"
        self.calls += 1
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return {
            "KeyId": KeyId,
            "KeyPairSpec": KeyPairSpec,
            "PrivateKeyPlaintext": key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "PublicKey": key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        }


@pytest.fixture
def maker(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, list[tuple[Any, ...]], FakeKms]]:
    """The maker's module as CloudFormation runs it inline (with its `cfnresponse`), its
    answers to CloudFormation recorded, KMS faked and Secrets Manager in moto."""
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    answers: list[tuple[Any, ...]] = []
    cfnresponse = types.ModuleType("cfnresponse")
    cfnresponse.SUCCESS, cfnresponse.FAILED = "SUCCESS", "FAILED"  # type: ignore[attr-defined]
    cfnresponse.send = lambda *args, **kwargs: answers.append((*args, kwargs))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cfnresponse", cfnresponse)
    spec = importlib.util.spec_from_file_location("keypair_maker", SOURCE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kms = FakeKms()
    module.boto3 = types.SimpleNamespace(
        client=lambda name: kms if name == "kms" else boto3.client(name)
    )
    with mock_aws():
        yield module, answers, kms


def test_the_pair_the_maker_stores_signs_links_its_public_key_verifies(
    maker: tuple[Any, list[tuple[Any, ...]], FakeKms],
) -> None:
    module, answers, kms = maker
    secrets = boto3.client("secretsmanager")
    # As infra/ makes the secret: a placeholder the maker replaces.
    arn = secrets.create_secret(Name="cf-key", SecretString='{"placeholder": "x"}')["ARN"]
    event = {
        "RequestType": "Create",
        "ResourceProperties": {"SecretId": arn, "KeyId": "key-1", "KeyPairSpec": "RSA_2048"},
    }
    module.handler(event, None)
    (_event, _context, status, data, physical, _options) = answers[-1]
    assert status == "SUCCESS" and physical == arn
    assert set(data) == {"PublicKeyPem"}  # CloudFormation hears the public key only
    assert "PRIVATE" not in data["PublicKeyPem"]
    public = serialization.load_pem_public_key(data["PublicKeyPem"].encode())
    assert isinstance(public, rsa.RSAPublicKey)

    clock = FakeClock()
    links = CloudFrontLinks("K1", SecretsManagerRsaKey(secrets, arn), clock)
    link = links.sign({PREFIX: [PREFIX + "index.m3u8"]}, 60)[PREFIX + "index.m3u8"]
    query = parse_qs(urlsplit(link).query)

    def unb64(text: str) -> bytes:  # CloudFront's base64
        return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))

    public.verify(
        unb64(query["Signature"][0]), unb64(query["Policy"][0]), padding.PKCS1v15(), hashes.SHA1()
    )
    # An update (a redeploy) keeps the pair: the key in CloudFront still matches the secret.
    module.handler({**event, "RequestType": "Update", "PhysicalResourceId": arn}, None)
    assert answers[-1][3] == data and kms.calls == 1
    stored = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    assert stored["public_key_pem"] == data["PublicKeyPem"]


def test_the_maker_answers_cloudformation_even_when_it_fails(
    maker: tuple[Any, list[tuple[Any, ...]], FakeKms],
) -> None:
    """A failure must reach CloudFormation (or the stack waits an hour), without the secret."""
    module, answers, _kms = maker
    event = {
        "RequestType": "Create",
        "ResourceProperties": {"SecretId": "absent", "KeyId": "k", "KeyPairSpec": "RSA_2048"},
    }
    module.handler(event, None)
    (_event, _context, status, data, _physical, _options) = answers[-1]
    assert status == "FAILED" and "Error" in data
