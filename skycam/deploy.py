"""`skycam deploy`: put the relay on the AWS account of the current credentials with the CDK CLI.

A thin wrapper: it runs the documented line (docs/DEPLOYMENT.md) from the repository root, so
`skycam deploy --print` shows exactly what an owner would type by hand.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CDK_CLI = "aws-cdk@2.1149.0"
"""The CDK CLI, pinned: it reads the cloud assembly aws-cdk-lib writes."""
STAGE_NAMES = ("dev", "prod")
"""infra/stages.py's stages, named here so `skycam` does not start jsii to build its parser."""


def cdk_command(
    action: str, *, stage: str, alarm_email: str = "", budget_usd: int | None = None
) -> list[str]:
    command = [
        "npx",
        "--yes",
        CDK_CLI,
        action,
        "--app",
        f"{shlex.quote(sys.executable)} -m infra.main",
        "--output",
        "infra/cdk.out",
        "-c",
        f"stage={stage}",
    ]
    if alarm_email:
        command += ["-c", f"alarm_email={alarm_email}"]
    if budget_usd is not None:
        command += ["-c", f"budget_usd={budget_usd}"]
    if action == "deploy":
        command += ["--require-approval", "broadening", "--outputs-file", f"relay-{stage}.json"]
    return command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", choices=STAGE_NAMES, default="prod")
    parser.add_argument("--alarm-email", default="", help="where alarms and budget notices go")
    parser.add_argument("--budget-usd", type=int, default=None, help="monthly cost budget")
    parser.add_argument(
        "--destroy", action="store_true", help="tear the stack down (prod keeps its data)"
    )
    parser.add_argument("--print", action="store_true", help="print the command, run nothing")


def run(args: argparse.Namespace) -> int:
    command = cdk_command(
        "destroy" if args.destroy else "deploy",
        stage=args.stage,
        alarm_email=args.alarm_email,
        budget_usd=args.budget_usd,
    )
    if args.print:
        print(shlex.join(command))
        return 0
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
