"""AWS's own checks on the synthesized app: cdk-nag's AwsSolutions pack (run during the synth,
which fails on any finding nobody acknowledged) and cfn-lint on the template."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file

from .conftest import Synthesized


def test_every_acknowledged_nag_finding_says_why(synthesized: Synthesized) -> None:
    acknowledged = {
        rule: reason
        for entries in synthesized.metadata.values()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
    }
    assert any("AwsSolutions-" in rule for rule in acknowledged)
    for rule, reason in acknowledged.items():
        assert len(reason.split()) >= 8, f"{rule}: a reason, not a shrug: {reason!r}"


def test_nag_stops_a_synth_on_an_unacknowledged_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pack is not decoration: an unencrypted, logless bucket fails the synth."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Careless")
    s3.CfnBucket(stack, "Open")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match=r"AwsSolutions-S10"):
        app.synth()


# Warnings about what aws-cdk-lib itself writes, not about our choices:
IGNORED = {
    # A DependsOn beside a GetAtt: CDK's Function depends on its role explicitly.
    "W3005": "redundant DependsOn written by aws-cdk-lib",
    # CloudFront's standard logs still need the log bucket's ACL (LogDeliveryWrite).
    "W3045": "the access-log bucket's ACL, which CloudFront logging requires",
}


def test_cfn_lint_passes_on_the_template(synthesized: Synthesized) -> None:
    matches = lint_file(
        synthesized.template_path,
        config=ManualArgs(regions=["eu-west-1"], ignore_checks=list(IGNORED)),
    )
    problems = [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id[0] in "EW"]
    assert problems == []
