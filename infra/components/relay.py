"""The relay itself: the Chalice app in cloud/ (REST API, WebSocket API, their Lambdas).

`chalice.cdk.Chalice` runs `chalice package` at synth time and includes its SAM template. The
app's environment comes from the caller (the stack derives it from the relay's own config code)
and the Lambdas run as a role the caller owns and grants to, so every permission is in the stack.
Chalice's own log-retention option names the API handler's log group wrongly (`${ApiHandler}` for
the resource `APIHandler`, chalice 1.34), so the log groups are made here instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from chalice.cdk import Chalice
from constructs import Construct

from ..nag import acknowledge

# The Lambdas `chalice package` makes for cloud/app.py: its REST handler and the three
# WebSocket routes Chalice supports. tests/infra checks this list against the template.
FUNCTIONS = ("APIHandler", "WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect")
API_STAGE = "api"
REST_API_NAME = "skycam-relay"
"""The REST API's name (Chalice names it after the app), which its CloudWatch metrics carry."""


class RelayApi(Construct):
    """Exposes `chalice`, `function_names` (logical name -> deployed name), `rest_api_id`,
    `websocket_api_id`, `rest_domain`, `rest_url` and `websocket_url`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source_dir: Path,
        environment: Mapping[str, str],
        role: iam.IRole,
        log_retention: logs.RetentionDays,
        memory_mb: int = 256,
    ) -> None:
        super().__init__(scope, id)
        # `chalice package` imports the app with the stage's environment written into this
        # process's os.environ (chalice.api.package_app hands it os.environ) and leaves it there:
        # a relay started later by the same process (the tests' local host) would read the
        # Lambda's settings. The process's environment is put back as it was.
        saved = dict(os.environ)
        try:
            self.chalice = Chalice(
                self,
                "Chalice",
                source_dir=str(source_dir),
                stage_config={
                    "environment_variables": dict(environment),
                    "manage_iam_role": False,
                    "iam_role_arn": role.role_arn,
                    "lambda_memory_size": memory_mb,
                    # API Gateway gives up on an integration after 29 s.
                    "lambda_timeout": 29,
                    "api_gateway_stage": API_STAGE,
                    "websocket_api_stage": API_STAGE,
                },
            )
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.function_names: dict[str, str] = {
            name: self.chalice.get_resource(name).ref for name in FUNCTIONS
        }
        for name, deployed in self.function_names.items():
            log_group = logs.LogGroup(
                self,
                f"{name}Logs",
                log_group_name=f"/aws/lambda/{deployed}",
                retention=log_retention,
            )
            log_group.grant_write(role)
        for route in ("WebsocketConnectRoute", "WebsocketMessageRoute", "WebsocketDisconnectRoute"):
            acknowledge(
                self.chalice.get_resource(route),
                "AwsSolutions-APIG4",
                "Chalice has no WebSocket authorizer: $connect authenticates inside the handler "
                "(a recorder's signature over a fresh challenge, a device's one-time ticket) and "
                "refuses the connection there; later frames are bound to that connection",
            )
        acknowledge(
            self.chalice.get_resource("WebsocketAPIStage"),
            "AwsSolutions-APIG1",
            "API Gateway access logging needs an account-wide CloudWatch role a self-hoster may "
            "not have, and would log each connection's address; the relay's audit log records "
            "connects and brokered calls (metadata only)",
        )
        self.rest_api_id = self.chalice.get_resource("RestAPI").ref
        self.websocket_api_id = self.chalice.get_resource("WebsocketAPI").ref
        host = f"execute-api.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}"
        self.rest_domain = f"{self.rest_api_id}.{host}"
        self.rest_url = f"https://{self.rest_domain}/{API_STAGE}/"
        self.websocket_url = f"wss://{self.websocket_api_id}.{host}/{API_STAGE}"

    def add_environment(self, name: str, value: str) -> None:
        """Set one more variable on every function: for values only known once the APIs exist
        (their own URLs), which `environment` cannot carry at construction."""
        for function in FUNCTIONS:
            resource = self.chalice.get_resource(function)
            assert isinstance(resource, cdk.CfnResource)
            resource.add_property_override(f"Environment.Variables.{name}", value)
