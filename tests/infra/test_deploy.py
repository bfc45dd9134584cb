"""`skycam deploy` runs the documented CDK line; `--print` shows it without running it."""

from __future__ import annotations

import shlex
import sys

import pytest

from infra.stages import STAGES
from skycam import deploy
from skycam.cli import main


def test_stage_choices_are_the_apps_stages() -> None:
    assert set(deploy.STAGE_NAMES) == set(STAGES)


def test_print_shows_the_cdk_deploy_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--stage", "prod", "--alarm-email", "me@x.org", "--print"]) == 0
    words = shlex.split(capsys.readouterr().out)
    assert words[:4] == ["npx", "--yes", deploy.CDK_CLI, "deploy"]
    assert words[words.index("--app") + 1] == f"{sys.executable} -m infra.main"
    context = [words[i + 1] for i, w in enumerate(words) if w == "-c"]
    assert context == ["stage=prod", "alarm_email=me@x.org"]


def test_destroy_names_the_stage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--stage", "dev", "--destroy", "--print"]) == 0
    words = shlex.split(capsys.readouterr().out)
    assert words[3] == "destroy"
    assert "stage=dev" in words
    assert "--require-approval" not in words


def test_unknown_stage_is_refused() -> None:
    with pytest.raises(SystemExit):
        main(["deploy", "--stage", "staging", "--print"])
