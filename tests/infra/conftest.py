"""One synth of the whole app (prod stage) for every infra test: it costs tens of seconds.

The app is synthesized as `cdk synth` would (cdk-nag's AwsSolutions pack included: synth fails
on any finding not acknowledged), without AWS credentials, into a temporary directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

STACK = "SkyCamRelay-prod"


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    template_path: Path
    template: dict[str, Any]
    metadata: dict[str, Any]
    stack: Any

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    from infra.main import build_app

    work = tmp_path_factory.mktemp("cdk")
    saved_cwd, saved_env = Path.cwd(), dict(os.environ)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        os.environ.pop(name, None)  # offline: no credentials reach the synth
    # As `cdk deploy` runs the app: the CLI pins the stack to the credentials' account/region.
    os.environ["AWS_DEFAULT_REGION"] = "eu-west-1"
    os.environ["CDK_DEFAULT_REGION"] = "eu-west-1"
    os.environ["CDK_DEFAULT_ACCOUNT"] = "123456789012"
    os.chdir(work)  # the Chalice construct packages into ./chalice.out
    try:
        app = build_app(
            work / "cdk.out", context={"stage": "prod", "alarm_email": "owner@example.com"}
        )
        assembly = app.synth()
        stack = app.node.find_child(STACK)
        template_path = work / "cdk.out" / f"{STACK}.template.json"
        assembly_dir = Path(assembly.directory)
        yield Synthesized(
            assembly_dir,
            template_path,
            json.loads(template_path.read_text()),
            json.loads((assembly_dir / f"{STACK}.metadata.json").read_text()),
            stack,
        )
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
