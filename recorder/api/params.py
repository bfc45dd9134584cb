"""Parsing and bounding request parameters: times, ranges, page sizes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from recorder.errors import InvalidRequest

MIN_MS = 946_684_800_000  # 2000-01-01: anything earlier is a mistake, not a recording
MAX_MS = 4_102_444_800_000  # 2100-01-01


def parse_time(name: str, value: str) -> int:
    """Milliseconds since the epoch, from an integer of milliseconds or an ISO 8601 time
    (with an offset, or UTC if none)."""
    text = value.strip()
    try:
        if text.lstrip("-").isdigit():
            ms = int(text)
        else:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            ms = round(when.timestamp() * 1000)
    except (ValueError, OverflowError):
        raise InvalidRequest(
            f"{name}: expected milliseconds since 1970 or an ISO 8601 time, got {value!r}"
        ) from None
    if not MIN_MS <= ms <= MAX_MS:
        raise InvalidRequest(f"{name}: out of range (years 2000 to 2100)")
    return ms


def parse_range(start: str, end: str, max_ms: int, what: str) -> tuple[int, int]:
    start_ms, end_ms = parse_time("start", start), parse_time("end", end)
    if end_ms <= start_ms:
        raise InvalidRequest("end must be after start")
    if end_ms - start_ms > max_ms:
        raise InvalidRequest(f"{what} spans at most {max_ms // 3_600_000} hours")
    return start_ms, end_ms


def time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(f"tz: unknown time zone {name!r}") from None
