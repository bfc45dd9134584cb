"""Deployment stages (dev, prod): parameters of the app, chosen with `-c stage=NAME`.

Constructs never test the stage; they take what differs (removal policy, retention, budget)
as keyword arguments, and this module is the one place those values are decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import aws_cdk as cdk
from aws_cdk import aws_logs as logs

from .errors import InfraError


@dataclass(frozen=True)
class Stage:
    name: str
    removal_policy: cdk.RemovalPolicy
    """What happens to the data (table, media, secrets) when the stack is deleted: dev destroys,
    prod keeps it so a mistaken teardown loses nothing."""
    log_retention: logs.RetentionDays
    """How long the Lambda log groups keep their logs."""
    thumbnail_days: int = 30
    """Days an encrypted event thumbnail stays in the media bucket."""
    media_session_days: int = 1
    """Days a remote live/playback session's encrypted parts stay (sessions last minutes)."""
    budget_usd: int = 10
    """Monthly cost budget; the budget alarm fires at 80 % of actual and 100 % of forecast."""
    alarm_email: str = ""
    """Where alarms and budget notices go (an SNS email subscription); empty: none."""
    open_signup: bool = False
    """The relay's SKYCAM_RELAY_OPEN_SIGNUP: by invitation only unless set."""
    pwa_domain: str = ""
    """The PWA's own domain if it has one (CNAME to the distribution); empty: CloudFront's.
    The push contact (VAPID `sub`) names it when no `alarm_email` is given."""


STAGES: dict[str, Stage] = {
    "dev": Stage(
        name="dev",
        removal_policy=cdk.RemovalPolicy.DESTROY,
        log_retention=logs.RetentionDays.TWO_WEEKS,
    ),
    "prod": Stage(
        name="prod",
        removal_policy=cdk.RemovalPolicy.RETAIN,
        log_retention=logs.RetentionDays.THREE_MONTHS,
        budget_usd=25,
    ),
}

# Context keys the app reads (`cdk deploy -c KEY=VALUE`).
CONTEXT_KEYS = ("stage", "budget_usd", "alarm_email", "open_signup", "pwa_domain")


def stage_from_context(context: Mapping[str, object]) -> Stage:
    name = str(context.get("stage", "dev"))
    if name not in STAGES:
        raise InfraError(f"unknown stage {name!r}: one of {', '.join(STAGES)}")
    stage = STAGES[name]
    if "budget_usd" in context:
        try:
            budget = int(str(context["budget_usd"]))
        except ValueError as exc:
            raise InfraError(f"budget_usd must be a whole number of dollars: {exc}") from exc
        if budget <= 0:
            raise InfraError("budget_usd must be positive")
        stage = replace(stage, budget_usd=budget)
    if "alarm_email" in context:
        email = str(context["alarm_email"])
        if "@" not in email:
            raise InfraError(f"alarm_email {email!r} is not an email address")
        stage = replace(stage, alarm_email=email)
    if "open_signup" in context:
        raw = str(context["open_signup"]).lower()
        if raw not in ("true", "false"):
            raise InfraError("open_signup must be true or false")
        stage = replace(stage, open_signup=raw == "true")
    if "pwa_domain" in context:
        domain = str(context["pwa_domain"])
        if not domain or "/" in domain or ":" in domain:
            raise InfraError(f"pwa_domain {domain!r} must be a bare host name")
        stage = replace(stage, pwa_domain=domain)
    return stage
