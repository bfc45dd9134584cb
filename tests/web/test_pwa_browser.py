"""The PWA in Debian's Chromium (Playwright, headless) against the real recorder and simulated
cameras: web/e2e/*.spec.ts. Each spec's own assertions are the test; this runs them."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.stack import CHROMIUM, WEB, WebStack, playwright_env, web_stack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
# About 50 specs take 8-9 minutes on a quiet 2-core machine (the zone test waits for two of the
# simulator's scripted crossings, up to a minute); a loaded CI run may take twice that.
PLAYWRIGHT_TIMEOUT_S = 1500


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    # A 60 s relay connection cap: remote-mode.spec.ts sees the browser roll over within a test.
    # A second recorder on the relay: the recorder picker of an account enrolled with both.
    with web_stack(
        tmp_path_factory.mktemp("web-stack"),
        faulty=True,
        relay=True,
        relay_max_s=60,
        second_recorder=True,
    ) as running:
        yield running


@pytest.mark.timeout(PLAYWRIGHT_TIMEOUT_S + 60)
def test_playwright_specs_pass_against_the_real_recorder(stack: WebStack) -> None:
    result = subprocess.run(
        ["npx", "--no-install", "playwright", "test"],
        cwd=WEB,
        env=playwright_env(stack),
        capture_output=True,
        text=True,
        timeout=PLAYWRIGHT_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert " passed" in result.stdout and " failed" not in result.stdout
