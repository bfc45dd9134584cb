"""Quiet hours: a daily window, in the subscriber's time zone, when no notification is sent.

The zone is an IANA name (`Europe/Paris`, daylight saving followed) or a fixed UTC offset
(`+02:00`, `-0530`), for browsers that only report an offset. A window whose end is before its
start runs over midnight (22:00-07:00); start == end means no quiet hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from recorder.push.errors import BadSubscription

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def parse_zone(name: str) -> tzinfo:
    match = _OFFSET.match(name)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta > timedelta(hours=14) or int(minutes) >= 60:
            raise BadSubscription(f"time_zone: offset {name!r} out of range")
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadSubscription(
            f"time_zone: {name!r} is neither an IANA zone nor an offset like +02:00"
        ) from None


def _parse_time(field: str, text: str) -> time:
    match = _HHMM.match(text)
    if not match:
        raise BadSubscription(f"{field}: expected HH:MM (00:00-23:59), got {text!r}")
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class QuietHours:
    start: str  # "HH:MM"
    end: str
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        _parse_time("quiet_hours.start", self.start)
        _parse_time("quiet_hours.end", self.end)
        parse_zone(self.time_zone)

    def covers(self, at: float) -> bool:
        """Whether the Unix time `at` falls in the window, in the subscriber's zone."""
        local = datetime.fromtimestamp(at, UTC).astimezone(parse_zone(self.time_zone)).time()
        start, end = _parse_time("start", self.start), _parse_time("end", self.end)
        local = local.replace(second=0, microsecond=0, tzinfo=None)
        if start == end:
            return False
        if start < end:
            return start <= local < end
        return local >= start or local < end
