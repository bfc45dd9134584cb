"""cdk-nag (AwsSolutions pack): the checks run at synth, and synth stops on any finding nobody
acknowledged. Acknowledgments sit next to the resource they concern, each with its reason, and
go through this one helper so they read the same everywhere."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """`rule` is the finding's id as cdk-nag prints it, e.g. `AwsSolutions-IAM5[Resource::*]`."""
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))
