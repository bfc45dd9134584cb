"""The PWA's unit tests (vitest, in Node): web/src/**/*.test.ts, such as the browser's sealed
channel against docs/ref/tunnel-vectors.json and its sealed media objects against
docs/ref/remote-media-vectors.json. Their own assertions are the test; this runs them."""

from __future__ import annotations

import subprocess

from tests.web.stack import WEB


def test_vitest_specs_pass() -> None:
    result = subprocess.run(
        ["npx", "--no-install", "vitest", "run", "--reporter=verbose"],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert "passes the tunnel test vectors" in result.stdout
    assert "passes the remote media test vectors" in result.stdout
    assert " failed" not in result.stdout
