"""Template assertions for each component of the relay's stack, checked against the relay's own
code where the relay decides (table shape, Lambda environment, functions)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

import infra
from cloud.chalicelib.config import PREFIX, RelayConfig, load_config
from cloud.chalicelib.edge import EDGE_HEADER
from cloud.chalicelib.storage import dynamo_items
from infra.components.media import MEDIA_SESSIONS_PREFIX, THUMBNAILS_PREFIX
from infra.components.relay import API_STAGE, FUNCTIONS
from infra.components.web import RELAY_PATHS
from infra.stack import RelayStack

from .conftest import Synthesized

# CloudFront's managed policies (their ids are fixed by AWS).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.fixture(scope="module")
def template(synthesized: Synthesized) -> Template:
    return Template.from_json(synthesized.template)


class _RecordingDynamo:
    """Stands in for the boto3 client `create_table` is given, to read the table it asks for."""

    def __init__(self) -> None:
        self.calls: dict[str, dict[str, Any]] = {}

    def create_table(self, **kwargs: Any) -> None:
        self.calls["create_table"] = kwargs

    def update_time_to_live(self, **kwargs: Any) -> None:
        self.calls["update_time_to_live"] = kwargs


def test_table_is_the_one_the_relay_adapter_creates(template: Template) -> None:
    relay_side = _RecordingDynamo()
    dynamo_items.create_table(relay_side, "t")
    wanted = relay_side.calls["create_table"]
    ttl = relay_side.calls["update_time_to_live"]["TimeToLiveSpecification"]
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "KeySchema": wanted["KeySchema"],
                "AttributeDefinitions": Match.array_equals(wanted["AttributeDefinitions"]),
                "BillingMode": wanted["BillingMode"],
                "TimeToLiveSpecification": ttl,
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
                "DeletionProtectionEnabled": True,
                # The ItemStore port queries one partition by key: no index to pay for.
                "GlobalSecondaryIndexes": Match.absent(),
            },
            "DeletionPolicy": "Retain",
        },
    )


def test_buckets_are_private_encrypted_and_tls_only(synthesized: Synthesized) -> None:
    buckets = synthesized.resources("AWS::S3::Bucket")
    assert len(buckets) == 3  # media, its access logs, the PWA's site
    policies = synthesized.resources("AWS::S3::BucketPolicy")
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
        denies_plain_http = [
            statement
            for policy in policies.values()
            if policy["Properties"]["Bucket"] == {"Ref": name}
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Deny"
            and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            and statement["Action"] == "s3:*"
        ]
        assert denies_plain_http, f"{name} accepts plain HTTP"


def test_media_bucket_expires_thumbnails_and_sessions_and_has_no_cors(
    synthesized: Synthesized,
) -> None:
    media = synthesized.template["Resources"][_ref(synthesized, "SKYCAM_RELAY_BUCKET")]
    props = media["Properties"]
    rules = {r["Prefix"]: r for r in props["LifecycleConfiguration"]["Rules"] if "Prefix" in r}
    assert rules[THUMBNAILS_PREFIX]["ExpirationInDays"] == 30
    assert rules[MEDIA_SESSIONS_PREFIX]["ExpirationInDays"] == 1
    assert all(r["Status"] == "Enabled" for r in rules.values())
    # The relay's keep settings say what the lifecycle rules do (the local host acts on them).
    env = synthesized.template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    day = 86400
    assert (
        int(env["SKYCAM_RELAY_MEDIA_KEEP_S"])
        == rules[MEDIA_SESSIONS_PREFIX]["ExpirationInDays"] * day
    )
    assert (
        int(env["SKYCAM_RELAY_THUMBNAIL_KEEP_S"])
        == rules[THUMBNAILS_PREFIX]["ExpirationInDays"] * day
    )
    # Objects outlive the longest media session they belong to.
    assert int(env["SKYCAM_RELAY_MEDIA_SESSION_MAX_S"]) < int(env["SKYCAM_RELAY_MEDIA_KEEP_S"])
    # Browsers read through the distribution, same-origin; the recorder's uploads are form POSTs
    # from a process, which CORS does not concern: the bucket answers no cross-origin request.
    assert "CorsConfiguration" not in props


def test_pwa_and_media_behind_cloudfront_with_headers_and_signed_cookies(
    synthesized: Synthesized, template: Template
) -> None:
    template.has_resource_properties(
        "AWS::CloudFront::ResponseHeadersPolicy",
        {
            "ResponseHeadersPolicyConfig": {
                "SecurityHeadersConfig": {
                    "StrictTransportSecurity": Match.object_like(
                        {"AccessControlMaxAgeSec": 31536000, "IncludeSubdomains": True}
                    ),
                    "ContentTypeOptions": {"Override": True},
                    "FrameOptions": {"FrameOption": "DENY", "Override": True},
                    "ContentSecurityPolicy": Match.object_like(
                        {"ContentSecurityPolicy": Match.any_value()}
                    ),
                }
            }
        },
    )
    (distribution,) = synthesized.resources("AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    (headers_id,) = synthesized.resources("AWS::CloudFront::ResponseHeadersPolicy")
    assert config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == {"Ref": headers_id}
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert "TrustedKeyGroups" not in config["DefaultCacheBehavior"]  # the PWA itself is public
    (key_group,) = synthesized.resources("AWS::CloudFront::KeyGroup")
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviors) == {f"{MEDIA_SESSIONS_PREFIX}*", f"{THUMBNAILS_PREFIX}*", *RELAY_PATHS}
    for path in (f"{MEDIA_SESSIONS_PREFIX}*", f"{THUMBNAILS_PREFIX}*"):
        assert behaviors[path]["TrustedKeyGroups"] == [{"Ref": key_group}]
        assert behaviors[path]["ViewerProtocolPolicy"] == "https-only"
    # Every bucket origin is private, reached through origin access control; the one other
    # origin is the relay's REST API, over TLS 1.2 only.
    origins = {origin["Id"]: origin for origin in config["Origins"]}
    (api_origin,) = [o for o in origins.values() if "OriginAccessControlId" not in o]
    assert "S3OriginConfig" not in api_origin
    assert api_origin["CustomOriginConfig"] == {
        "OriginProtocolPolicy": "https-only",
        "OriginSSLProtocols": ["TLSv1.2"],
    }
    for path in RELAY_PATHS:
        assert behaviors[path]["TargetOriginId"] == api_origin["Id"]
        assert behaviors[path]["ResponseHeadersPolicyId"] == {"Ref": headers_id}
    # The app shell for the PWA's routes, rewritten at the edge on its own behavior only (a
    # distribution-wide error page would turn the API's 404s into 200 HTML).
    (shell,) = synthesized.resources("AWS::CloudFront::Function")
    associations = config["DefaultCacheBehavior"]["FunctionAssociations"]
    assert associations == [
        {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": [shell, "FunctionARN"]}}
    ]
    assert "CustomErrorResponses" not in config


def test_media_reaches_devices_only_through_cloudfront_signed_with_the_relays_key(
    synthesized: Synthesized,
) -> None:
    """`media/*` and `thumbnails/*` come from the media bucket through origin access control,
    uncached, only to requests signed with a key of the key group; that key's private half is
    the secret the relay signs links with (SKYCAM_RELAY_CLOUDFRONT_KEY_SECRET, readable by its
    role) and its id the relay's SKYCAM_RELAY_CLOUDFRONT_KEY_PAIR_ID. The bucket's policy lets
    in this distribution and nobody else (the relay's role may only presign uploads)."""
    resources = synthesized.template["Resources"]
    ((distribution_id, distribution),) = synthesized.resources(
        "AWS::CloudFront::Distribution"
    ).items()
    config = distribution["Properties"]["DistributionConfig"]
    ((key_group_id, key_group),) = synthesized.resources("AWS::CloudFront::KeyGroup").items()
    ((public_key_id, public_key),) = synthesized.resources("AWS::CloudFront::PublicKey").items()
    assert key_group["Properties"]["KeyGroupConfig"]["Items"] == [{"Ref": public_key_id}]
    access_controls = synthesized.resources("AWS::CloudFront::OriginAccessControl")
    media_bucket = _ref(synthesized, "SKYCAM_RELAY_BUCKET")
    origins = {origin["Id"]: origin for origin in config["Origins"]}
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    for path in (f"{MEDIA_SESSIONS_PREFIX}*", f"{THUMBNAILS_PREFIX}*"):
        behavior = behaviors[path]
        assert behavior["TrustedKeyGroups"] == [{"Ref": key_group_id}]
        # A live playlist and a thumbnail are rewritten under their keys: nothing is cached.
        assert behavior["CachePolicyId"] == CACHING_DISABLED
        assert sorted(behavior["AllowedMethods"]) == ["GET", "HEAD"]
        assert "OriginRequestPolicyId" not in behavior  # no signature is passed on to S3
        origin = origins[behavior["TargetOriginId"]]
        assert origin["DomainName"] == {"Fn::GetAtt": [media_bucket, "RegionalDomainName"]}
        (oac_id, _) = origin["OriginAccessControlId"]["Fn::GetAtt"]
        oac = access_controls[oac_id]["Properties"]["OriginAccessControlConfig"]
        assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("s3", "always")
    (policy,) = [
        p
        for p in synthesized.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": media_bucket}
    ]
    allows = [
        st for st in policy["Properties"]["PolicyDocument"]["Statement"] if st["Effect"] == "Allow"
    ]
    # Objects to this distribution, and whether a key exists (404 rather than 403 for one not
    # uploaded yet, as on the local host); to nobody else.
    assert sorted(_as_list(st["Action"])[0] for st in allows) == ["s3:GetObject", "s3:ListBucket"]
    for allow in allows:
        assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        source = _render(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
        assert source.endswith(f":distribution/ref:{distribution_id}"), source
        resource = allow["Resource"]
        if allow["Action"] == "s3:ListBucket":
            assert resource == {"Fn::GetAtt": [media_bucket, "Arn"]}
        else:
            assert resource == {"Fn::Join": ["", [{"Fn::GetAtt": [media_bucket, "Arn"]}, "/*"]]}
    # The relay signs for exactly that key, with the private half of the deploy-time pair.
    env = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert env["SKYCAM_RELAY_MEDIA_LINKS"] == "cloudfront"
    assert env["SKYCAM_RELAY_CLOUDFRONT_KEY_PAIR_ID"] == {"Ref": public_key_id}
    key_secret = _ref(synthesized, "SKYCAM_RELAY_CLOUDFRONT_KEY_SECRET")
    (maker,) = public_key["Properties"]["PublicKeyConfig"]["EncodedKey"]["Fn::GetAtt"][:1]
    assert resources[maker]["Properties"]["SecretId"] == {"Ref": key_secret}
    assert resources[maker]["Properties"]["KeyPairSpec"] == "RSA_2048"
    (relay_policy,) = [
        p for k, p in synthesized.resources("AWS::IAM::Policy").items() if k.startswith("RelayRole")
    ]
    readable = [
        st["Resource"]
        for st in relay_policy["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager:GetSecretValue" in _as_list(st["Action"])
    ]
    assert {"Ref": key_secret} in readable


def test_secrets_are_generated_at_deploy_never_written(synthesized: Synthesized) -> None:
    secrets = synthesized.resources("AWS::SecretsManager::Secret")
    assert len(secrets) == 4  # token signing, edge, VAPID, CloudFront signing
    for secret in secrets.values():
        assert "SecretString" not in secret["Properties"]
        assert "GenerateSecretString" in secret["Properties"]
        assert "KmsKeyId" in secret["Properties"]
    pairs = synthesized.resources("AWS::CloudFormation::CustomResource")
    specs = sorted(p["Properties"]["KeyPairSpec"] for p in pairs.values())
    assert specs == ["ECC_NIST_P256", "RSA_2048"]
    (public_key,) = synthesized.resources("AWS::CloudFront::PublicKey").values()
    encoded = public_key["Properties"]["PublicKeyConfig"]["EncodedKey"]
    assert set(encoded) == {"Fn::GetAtt"}, "the public key comes from the deploy-time pair"
    assert encoded["Fn::GetAtt"][0] in pairs
    assert "PRIVATE KEY-----\n" not in json.dumps(synthesized.template)


def test_lambda_environment_is_exactly_what_the_relay_config_reads(
    synthesized: Synthesized,
) -> None:
    functions = synthesized.resources("AWS::Serverless::Function")
    assert set(functions) == set(FUNCTIONS)
    config_names = {f"{PREFIX}{f.name.upper()}" for f in fields(RelayConfig)}
    for name, function in functions.items():
        env = function["Properties"]["Environment"]["Variables"]
        # Only the local host's directory is left out; everything else is set explicitly.
        assert config_names - set(env) == {f"{PREFIX}DATA_DIR"}, name
        assert set(env) <= config_names, name
        resolved = {k: _render(v) for k, v in env.items()}
        config = load_config(resolved)  # the relay's own parser accepts it as is
        assert config.storage == "dynamodb"
        resources = synthesized.template["Resources"]
        assert resources[config.table.removeprefix("ref:")]["Type"] == "AWS::DynamoDB::Table"
        assert resources[config.bucket.removeprefix("ref:")]["Type"] == "AWS::S3::Bucket"
        secret = resources[config.signing_secret.removeprefix("ref:")]
        assert secret["Type"] == "AWS::SecretsManager::Secret"
        assert "signing" in secret["Properties"]["Description"]
        vapid = resources[config.vapid_secret.removeprefix("ref:")]  # the relay signs pushes
        assert vapid["Type"] == "AWS::SecretsManager::Secret"
        assert "VAPID" in vapid["Properties"]["Description"]
        # The relay names its own WebSocket API at /.well-known/skycam-relay.
        assert config.websocket_url == (
            "wss://ref:WebsocketAPI.execute-api.ref:AWS::Region.ref:AWS::URLSuffix/" + API_STAGE
        )
        assert resources["WebsocketAPI"]["Properties"]["ProtocolType"] == "WEBSOCKET"
        # Push services hear from the owner's contact (the alarm email), not a made-up one.
        assert config.push_subject == "mailto:owner@example.com"
        (role_id,) = [k for k in synthesized.resources("AWS::IAM::Role") if k.startswith("Relay")]
        assert function["Properties"]["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_no_wildcard_action_and_least_privilege_on_data(synthesized: Synthesized) -> None:
    data_types = {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret"}
    data = {k for k, v in synthesized.template["Resources"].items() if v["Type"] in data_types}
    relay_actions: set[str] = set()
    for name, policy in synthesized.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = _as_list(statement["Action"])
            assert not any(a == "*" or a.endswith(":*") for a in actions), (name, actions)
            touched = json.dumps(statement["Resource"])
            if any(f'"{d}"' in touched for d in data):
                assert all("*" not in a for a in actions), (name, actions)
            assert statement["Resource"] != "*", (name, actions)
            if name.startswith("RelayRole"):
                relay_actions.update(actions)
    dynamo = {a for a in relay_actions if a.startswith("dynamodb:")}
    assert dynamo == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
    }
    assert "dynamodb:Scan" not in relay_actions
    # The relay only presigns a recorder's POSTs, and only under the two prefixes it names keys
    # in; lifecycle rules delete, so no DeleteObject.
    (relay_policy,) = [
        p for k, p in synthesized.resources("AWS::IAM::Policy").items() if k.startswith("RelayRole")
    ]
    s3_statements = [
        st
        for st in relay_policy["Properties"]["PolicyDocument"]["Statement"]
        if any(a.startswith("s3:") for a in _as_list(st["Action"]))
    ]
    assert len(s3_statements) == 1
    (statement,) = s3_statements
    # Uploads only: devices read through CloudFront, which the bucket's own policy lets in.
    assert _as_list(statement["Action"]) == ["s3:PutObject"]
    media_bucket = _ref(synthesized, "SKYCAM_RELAY_BUCKET")
    assert statement["Resource"] == [
        {"Fn::Join": ["", [{"Fn::GetAtt": [media_bucket, "Arn"]}, f"/{prefix}*"]]}
        for prefix in (MEDIA_SESSIONS_PREFIX, THUMBNAILS_PREFIX)
    ]


def test_alarms_cover_every_lambda_the_apis_and_the_budget(synthesized: Synthesized) -> None:
    alarms = synthesized.resources("AWS::CloudWatch::Alarm").values()
    (topic,) = synthesized.resources("AWS::SNS::Topic")
    watched = set()
    for alarm in alarms:
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic}]
        dims = {d["Name"]: d["Value"] for d in props["Dimensions"]}
        watched.add((props["Namespace"], props["MetricName"], json.dumps(dims, sort_keys=True)))
    for function in FUNCTIONS:
        for metric in ("Errors", "Throttles"):
            dims = json.dumps({"FunctionName": {"Ref": function}}, sort_keys=True)
            assert ("AWS/Lambda", metric, dims) in watched, (function, metric)
    metrics = {(ns, m) for ns, m, _ in watched}
    assert ("AWS/ApiGateway", "5XXError") in metrics
    assert ("AWS/ApiGateway", "IntegrationError") in metrics
    (budget,) = synthesized.resources("AWS::Budgets::Budget").values()
    assert budget["Properties"]["Budget"]["BudgetLimit"] == {"Amount": 25, "Unit": "USD"}
    for notice in budget["Properties"]["NotificationsWithSubscribers"]:
        assert notice["Subscribers"] == [{"SubscriptionType": "SNS", "Address": {"Ref": topic}}]
    subscription = synthesized.resources("AWS::SNS::Subscription")
    assert [s["Properties"]["Endpoint"] for s in subscription.values()] == ["owner@example.com"]


def test_stack_wires_one_of_each_component(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    assert isinstance(stack, RelayStack)
    assert stack.stage.name == "prod"
    outputs = synthesized.template["Outputs"]
    assert {"RelayUrl", "RelayWebSocketUrl", "PwaUrl", "ApiUrl", "MediaKeyPairId"} <= set(outputs)
    # The recorder's `[relay] url`, hence every invitation link, names the distribution (which
    # serves the PWA and forwards /v1 to the API), never execute-api.
    (distribution,) = synthesized.resources("AWS::CloudFront::Distribution")
    assert outputs["RelayUrl"]["Value"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution, "DomainName"]}]]
    }


def test_relay_answers_the_well_known_path_the_distribution_forwards(
    synthesized: Synthesized,
) -> None:
    """CloudFront sends RELAY_PATHS to the REST API's stage; the API has those routes."""
    resources = synthesized.template["Resources"]
    (distribution,) = synthesized.resources("AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    (api_origin,) = [o for o in config["Origins"] if "CustomOriginConfig" in o]
    assert api_origin["OriginPath"] == f"/{API_STAGE}"
    assert api_origin["DomainName"]["Fn::Join"][1][0] == {"Ref": "RestAPI"}
    paths = resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert "get" in paths["/.well-known/skycam-relay"]
    assert all(path.startswith("/v1/") for path in paths if path != "/.well-known/skycam-relay")
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    for path in RELAY_PATHS:
        behavior = behaviors[path]
        assert behavior["CachePolicyId"] == CACHING_DISABLED, "answers carry tokens"
        # Every viewer header but Host (API Gateway needs its own); with caching off that
        # includes Authorization.
        assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
        assert {"GET", "POST", "DELETE"} <= set(behavior["AllowedMethods"])
        assert behavior["ViewerProtocolPolicy"] == "https-only"


def test_cloudfront_proves_itself_to_the_relay_with_a_generated_secret(
    synthesized: Synthesized,
) -> None:
    """The edge header's value is a dynamic reference to a generated secret, and that secret is
    the one the relay reads (SKYCAM_RELAY_EDGE_SECRET) and may read."""
    resources = synthesized.template["Resources"]
    edge_secret = _ref(synthesized, "SKYCAM_RELAY_EDGE_SECRET")
    assert resources[edge_secret]["Type"] == "AWS::SecretsManager::Secret"
    assert "GenerateSecretString" in resources[edge_secret]["Properties"]
    (distribution,) = synthesized.resources("AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    (api_origin,) = [o for o in config["Origins"] if "CustomOriginConfig" in o]
    (header,) = api_origin["OriginCustomHeaders"]
    assert header["HeaderName"] == EDGE_HEADER
    assert header["HeaderValue"] == {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": edge_secret}, ":SecretString:::}}"]]
    }
    # No bucket origin gets it (S3 would log it).
    assert all("OriginCustomHeaders" not in o for o in config["Origins"] if o is not api_origin)
    (relay_policy,) = [
        p for k, p in synthesized.resources("AWS::IAM::Policy").items() if k.startswith("RelayRole")
    ]
    readable = [
        st["Resource"]
        for st in relay_policy["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager:GetSecretValue" in _as_list(st["Action"])
    ]
    assert {"Ref": edge_secret} in readable


def test_app_shell_function_rewrites_app_routes_only(
    synthesized: Synthesized, tmp_path: Path
) -> None:
    """The deployed CloudFront Function's code, run in Node on sample requests."""
    (shell,) = synthesized.resources("AWS::CloudFront::Function").values()
    assert shell["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    script = tmp_path / "shell.js"
    uris = ["/", "/timeline", "/cameras/3/live", "/assets/index-ab12.js", "/sw.js", "/index.html"]
    script.write_text(
        shell["Properties"]["FunctionCode"]
        + f"\nconsole.log(JSON.stringify({json.dumps(uris)}.map("
        + "u => handler({request: {uri: u}}).uri)));\n"
    )
    node = shutil.which("node")
    assert node, "node runs the CDK; it runs this too"
    out = subprocess.run([node, str(script)], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [
        "/index.html",
        "/index.html",
        "/index.html",
        "/assets/index-ab12.js",
        "/sw.js",
        "/index.html",
    ]


def test_csp_lets_the_pwa_reach_itself_and_its_websocket_only(
    synthesized: Synthesized,
) -> None:
    (policy,) = synthesized.resources("AWS::CloudFront::ResponseHeadersPolicy").values()
    csp = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"][
        "ContentSecurityPolicy"
    ]["ContentSecurityPolicy"]
    rendered = _render(csp)
    connect = next(d for d in rendered.split("; ") if d.startswith("connect-src "))
    sources = connect.split()[1:]
    assert sources == [
        "'self'",  # the PWA, /v1, /.well-known and the media through the distribution
        "wss://ref:WebsocketAPI.execute-api.ref:AWS::Region.ref:AWS::URLSuffix",
    ]


def _ref(synthesized: Synthesized, env_name: str) -> str:
    function = synthesized.template["Resources"]["APIHandler"]
    ref: str = function["Properties"]["Environment"]["Variables"][env_name]["Ref"]
    return ref


def _render(value: Any) -> str:
    """A template value as text: `Ref X` -> `ref:X`, `GetAtt X.Y` -> `att:X.Y`, joins joined."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"ref:{value['Ref']}"
    if "Fn::GetAtt" in value:
        return "att:" + ".".join(value["Fn::GetAtt"])
    separator, parts = value["Fn::Join"]
    return str(separator).join(_render(part) for part in parts)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_key_pair_maker_runs_the_reviewed_source_inline(synthesized: Synthesized) -> None:
    """CloudFormation takes inline code up to 4 KB, and only inline code gets `cfnresponse`."""
    source = (Path(infra.__file__).parent / "lambda_src" / "keypair.py").read_text()
    assert len(source.encode()) <= 4096
    compile(source, "keypair.py", "exec")
    (function,) = synthesized.resources("AWS::Lambda::Function").values()
    assert function["Properties"]["Code"] == {"ZipFile": source}
    assert function["Properties"]["Handler"] == "index.handler"
    # The private key goes to its secret; CloudFormation hears only the public key.
    assert '"PublicKeyPem"' in source and "PrivateKeyPlaintext" in source


def test_synthesizing_leaves_the_process_environment_as_it_was(synthesized: Synthesized) -> None:
    """`chalice package` writes the Lambda's settings into os.environ while it imports the app;
    left there, a local relay started later in the same process read `MEDIA_LINKS=cloudfront`
    and refused to start."""
    assert synthesized.template  # the app was synthesized in this process
    assert not [name for name in os.environ if name.startswith(PREFIX)]
