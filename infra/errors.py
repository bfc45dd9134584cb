"""The CDK app's errors: bad app parameters, a relay config infra/ cannot satisfy."""

from __future__ import annotations


class InfraError(Exception):
    pass
