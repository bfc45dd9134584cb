"""`skycam sim` as a user runs it: prints the cameras, serves them, stops cleanly on a signal."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from sim_rtsp_probe import read_packets

import sim.cli
from sim.errors import SpecError
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
# The same contract skycam/cli.py relies on: add_arguments(parser), then run(args).
DRIVER = (
    "import argparse, sys, sim.cli as c; p = argparse.ArgumentParser(); c.add_arguments(p); "
    "sys.exit(c.run(p.parse_args(sys.argv[1:])))"
)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sim.cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_arguments_become_camera_specs() -> None:
    specs = sim.cli.build_specs(
        parse("--cameras", "5", "--scene", "mixed", "--fault", "cam2=drop:20", "--audio")
    )
    assert [s.name for s in specs] == ["cam1", "cam2", "cam3", "cam4", "cam5"]
    assert [s.scene_spec.kind for s in specs] == ["motion", "idle", "lights", "pattern", "motion"]
    assert str(specs[1].fault) == "drop:20" and specs[0].fault is None
    assert all(s.audio for s in specs)


@pytest.mark.parametrize(
    "argv",
    [["--fault", "cam9=drop:5"], ["--fault", "cam1"], ["--fault", "cam1=melt"], ["--cameras", "0"]],
)
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SpecError):
        sim.cli.build_specs(parse(*argv))


def test_public_names_import_from_the_package() -> None:
    code = "from sim import CameraSpec, Fault, SimCluster, SimCamera, GroundTruth, MotionScene"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=30)


def test_cli_serves_until_interrupted_and_leaves_nothing_behind() -> None:
    argv = ["--cameras", "2", "--scene", "idle", "--json", "--user", "u", "--password", "p"]
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, *argv], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        cameras = json.loads(process.stdout.readline())["cameras"]
        assert [c["name"] for c in cameras] == ["cam1", "cam2"]
        assert cameras[0]["main_url"].startswith("rtsp://u:p@127.0.0.1:")
        assert cameras[1]["sub_url"].endswith("/sub")
        assert cameras[0]["ground_truth"].endswith("main.json")
        log = read_packets(cameras[1]["sub_url"], 1.0)
        assert log.ended_by == "time" and log.pts
        server = psutil.Process(process.pid).children()
        assert len(server) == 1
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
        wait_until(lambda: _gone(server[0]))  # the camera server ends with the CLI
    finally:
        process.kill()
        process.wait()


def _gone(process: psutil.Process) -> bool:
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_cli_reports_bad_arguments_with_status_2() -> None:
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, "--fault", "cam3=drop:5"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "cam3" in result.stderr
