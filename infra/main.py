"""The CDK app's entry point (`cdk.json`: `python -m infra.main`). Not named app.py: that name is
the Chalice app's, and the Chalice construct imports it from cloud/.

    cd infra && npx cdk deploy -c stage=prod        # docs/DEPLOYMENT.md
"""

from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from .stack import RelayStack
from .stages import CONTEXT_KEYS, stage_from_context


def build_app(outdir: Path | None = None, context: dict[str, object] | None = None) -> cdk.App:
    """The app with one stack for the stage in the context; cdk-nag's AwsSolutions pack checks
    it at synth (its findings are errors in the cloud assembly's metadata)."""
    # The Chalice construct needs a region to package, whatever the target account.
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("CDK_DEFAULT_REGION", "us-east-1"))
    app = cdk.App(outdir=str(outdir) if outdir else None, context=context)
    values = {key: app.node.try_get_context(key) for key in CONTEXT_KEYS}
    stage = stage_from_context({k: v for k, v in values.items() if v is not None})
    RelayStack(
        app,
        f"SkyCamRelay-{stage.name}",
        stage=stage,
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
        description=f"SkyCam cloud relay ({stage.name})",
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()
