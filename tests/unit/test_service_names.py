"""The service names the site database without importing the API (imported once cameras record)."""

from __future__ import annotations

from recorder import service
from recorder.api import assemble


def test_the_site_database_has_one_name() -> None:
    assert service.SITE_DB == assemble.SITE_DB
