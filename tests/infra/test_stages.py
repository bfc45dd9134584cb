"""App parameters: the stage and its overrides come from the CDK context, checked once."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from infra.errors import InfraError
from infra.stages import stage_from_context


def test_dev_is_the_default_and_destroys_its_data() -> None:
    stage = stage_from_context({})
    assert stage.name == "dev"
    assert stage.removal_policy == cdk.RemovalPolicy.DESTROY


def test_prod_keeps_its_data_and_takes_overrides() -> None:
    stage = stage_from_context(
        {"stage": "prod", "budget_usd": "40", "alarm_email": "a@b.c", "pwa_domain": "cams.x.org"}
    )
    assert stage.removal_policy == cdk.RemovalPolicy.RETAIN
    assert (stage.budget_usd, stage.alarm_email) == (40, "a@b.c")
    assert stage.pwa_domain == "cams.x.org"


@pytest.mark.parametrize(
    "context",
    [
        {"stage": "staging"},
        {"budget_usd": "lots"},
        {"budget_usd": "0"},
        {"alarm_email": "nobody"},
        {"open_signup": "maybe"},
        {"pwa_domain": "https://cams.x.org/"},
    ],
)
def test_bad_parameters_are_refused_with_a_reason(context: dict[str, object]) -> None:
    with pytest.raises(InfraError):
        stage_from_context(context)
