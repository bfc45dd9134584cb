"""The rules on their own: endpoints the recorder may call, quiet hours across midnight and
daylight saving, the payload's size, and the resolver that keeps deliveries off the LAN."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from recorder.push.endpoint import GuardedResolver, check_endpoint
from recorder.push.errors import BadSubscription, RefusedAddress
from recorder.push.payload import MAX_PLAINTEXT, encode, notification, topic_for
from recorder.push.quiet import QuietHours
from tests.push.conftest import event


@pytest.mark.parametrize(
    "url",
    [
        "https://fcm.googleapis.com/fcm/send/abc:def",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://web.push.apple.com/QGuQyavXutnMH",
        "https://8.8.8.8/x",
        "https://[2001:4860:4860::8888]/x",
    ],
)
def test_public_https_endpoints_pass(url: str) -> None:
    assert check_endpoint(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://100.64.0.1/x",  # carrier-grade NAT
        "https://172.16.5.4/x",
        "https://0.0.0.0/x",
        "https://224.0.0.1/x",
        "https://[fe80::1]/x",
        "https://[::ffff:192.168.1.1]/x",
        "https://printer.home.arpa/x",
        "https://push.example.com:0/x",
        "https://push.example.com:99999/x",
    ],
)
def test_lan_and_odd_endpoints_are_refused(url: str) -> None:
    with pytest.raises(BadSubscription):
        check_endpoint(url)
    with pytest.raises(BadSubscription):
        check_endpoint(url, allow_loopback=True)


def test_loopback_only_when_allowed() -> None:
    for url in ("http://127.0.0.1:8000/p", "https://[::1]:8443/p", "http://127.9.9.9/p"):
        with pytest.raises(BadSubscription):
            check_endpoint(url)
        assert check_endpoint(url, allow_loopback=True) == url
    with pytest.raises(BadSubscription):
        check_endpoint("http://localhost:8000/p", allow_loopback=True)  # names: https, public


async def test_the_resolver_drops_addresses_that_are_not_public() -> None:
    with pytest.raises(RefusedAddress):
        await GuardedResolver().resolve("localhost", 443)
    found = await GuardedResolver(allow_loopback=True).resolve("localhost", 443)
    assert found and all(r["host"] in ("127.0.0.1", "::1") for r in found)


def _at(local: str, zone: str) -> float:
    return dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_quiet_hours_over_midnight_in_the_subscribers_zone() -> None:
    quiet = QuietHours("22:00", "07:00", "Europe/Paris")
    assert quiet.covers(_at("2026-01-10T23:30", "Europe/Paris"))
    assert quiet.covers(_at("2026-01-11T06:59", "Europe/Paris"))
    assert not quiet.covers(_at("2026-01-11T07:00", "Europe/Paris"))
    assert not quiet.covers(_at("2026-01-10T21:59", "Europe/Paris"))
    # Summer time: 22:30 in Paris is 20:30 UTC, inside; the same UTC instant in winter is not.
    assert quiet.covers(_at("2026-07-10T20:30", "UTC"))
    assert not quiet.covers(_at("2026-01-10T20:30", "UTC"))
    same = QuietHours("09:00", "09:00")
    assert not same.covers(_at("2026-01-10T09:00", "UTC"))


def test_quiet_hours_with_an_offset() -> None:
    quiet = QuietHours("12:00", "13:00", "-0530")
    assert quiet.covers(_at("2026-01-10T17:45", "UTC"))
    assert not quiet.covers(_at("2026-01-10T12:30", "UTC"))


def test_long_names_and_labels_are_cut_to_fit() -> None:
    big = event("front", kind="plate", label="X" * 5000)
    data = encode(notification(big, "N" * 5000))
    assert len(data) <= MAX_PLAINTEXT
    assert b'"event_id":' in data and b"thumbnail.jpg" in data


def test_topics_are_short_url_safe_and_per_camera() -> None:
    assert topic_for("front") != topic_for("yard")
    assert len(topic_for("x" * 64)) <= 32 and topic_for("front").isalnum()
