"""SimCluster's life cycle: clear errors when the server cannot start, and no process left over."""

from __future__ import annotations

import contextlib
import random
import socket
import time

import av
import psutil
import pytest

from sim.cluster import SimCluster
from sim.errors import ServerStartError, SimError
from sim.spec import CameraSpec


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_server_stops_when_the_block_ends_even_on_error() -> None:
    cluster = SimCluster([CameraSpec("cam1", "idle")])
    with pytest.raises(RuntimeError, match="boom"), cluster:
        pid = cluster.server_pid
        assert not gone(pid)
        raise RuntimeError("boom")
    assert gone(pid)
    with pytest.raises(SimError):
        _ = cluster.cameras


def test_a_busy_port_fails_the_start_with_our_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cluster = SimCluster([CameraSpec("cam1", "idle", port=port)], start_timeout_s=15)
        with pytest.raises(ServerStartError, match=f"cam1.*{port}"):
            cluster.start()


def test_a_missing_interpreter_fails_the_start_with_our_error() -> None:
    with pytest.raises(ServerStartError, match="/nonexistent/python3"):
        SimCluster([CameraSpec("cam1", "idle")], interpreter="/nonexistent/python3").start()


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free ports below Linux's ephemeral range (32768 and up),
    where no client connection of a busy suite can take one between this check and the bind."""
    for base in random.sample(range(20000, 32000, count), 200):
        try:
            with contextlib.ExitStack() as stack:
                for port in range(base, base + count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise AssertionError("no free block of ports below 32000")


def test_base_port_numbers_the_cameras_in_order() -> None:
    base = free_port_block(2)
    specs = [CameraSpec("a", "idle"), CameraSpec("b", "idle")]
    with SimCluster(specs, base_port=base) as cluster:
        assert [c.port for c in cluster.cameras.values()] == [base, base + 1]


def test_udp_clients_are_served_too() -> None:
    with SimCluster([CameraSpec("cam1", "idle")]) as cluster:
        with av.open(cluster.cameras["cam1"].sub_url, timeout=15) as container:  # UDP: default
            deadline = time.monotonic() + 2.0
            packets = 0
            for _packet in container.demux(video=0):
                packets += 1
                if time.monotonic() > deadline:
                    break
        assert packets > 15
