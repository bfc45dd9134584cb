"""The real `skycam relay` the relay tests talk to: one process per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .relay_host import RelayProcess


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path_factory.mktemp("relay"), idle_s=120, max_s=600).start()
    yield process
    process.stop()
