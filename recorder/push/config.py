"""`[push]`: Web Push settings (parsed with the recorder config; docs/ref/config.md mirrors it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class PushConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    """Send Web Push notifications at the start of events (default true)."""

    subject: Annotated[str, Field(pattern=r"^(mailto:[^@\s]+@[^@\s]+|https://\S+)$")] = (
        "mailto:admin@skycam.invalid"
    )
    """VAPID `sub` claim: a contact for push services (mailto: or https:)."""

    cooldown_s: Annotated[float, Field(ge=0, le=86_400)] = 60
    """After a camera's event is notified, its next events within this time are not (default 60)."""

    ttl_s: Annotated[int, Field(ge=0, le=2_419_200)] = 3600
    """How long a push service keeps an undelivered notification (TTL header, default 3600 s);
    the on-disk queue also drops notifications older than this."""

    urgency: Literal["very-low", "low", "normal", "high"] = "high"
    """Urgency header (default high: an alarm should wake the phone)."""

    concurrency: Annotated[int, Field(ge=1, le=1024)] = 64
    """Deliveries in flight at once (default 64)."""

    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10
    """Per request to a push service (default 10 s)."""

    attempts: Annotated[int, Field(ge=1, le=10)] = 3
    """Tries for a 429 or 5xx answer before the notification goes to the on-disk queue
    (default 3)."""

    backoff_cap_s: Annotated[float, Field(gt=0, le=600)] = 30
    """Longest wait between tries, including a push service's Retry-After (default 30 s)."""

    queue_max: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    """Undelivered notifications kept on disk; beyond it the oldest are dropped (default 10000)."""

    retry_interval_s: Annotated[float, Field(gt=0, le=3600)] = 30
    """How often the on-disk queue is retried (default 30 s)."""

    allow_loopback: bool = False
    """Test only: accept http:// endpoints on 127.0.0.0/8 and ::1. Production endpoints must be
    https and resolve to public addresses (default false)."""
