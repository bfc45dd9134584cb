"""ONVIF event notifications: what a PullMessages answer says, and which of it is motion.

Cameras report motion on a handful of topics (ONVIF Core spec, Analytics spec):
- tns1:RuleEngine/CellMotionDetector/Motion with data IsMotion (the profile S/T standard);
- tns1:VideoSource/MotionAlarm with data State (older and many budget cameras);
- tns1:RuleEngine/MotionRegionDetector/Motion with data State (region rules).
Vendors add their own prefixes, so topics are compared by their tail, without namespaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MOTION_TOPICS: dict[str, tuple[str, ...]] = {
    "RuleEngine/CellMotionDetector/Motion": ("IsMotion",),
    "VideoSource/MotionAlarm": ("State",),
    "RuleEngine/MotionRegionDetector/Motion": ("State", "IsMotion"),
}
_TRUE = {"true", "1", "on", "active"}


@dataclass(frozen=True)
class Notification:
    topic: str  # without namespace prefixes, e.g. "RuleEngine/CellMotionDetector/Motion"
    source: tuple[tuple[str, str], ...]  # SimpleItems of the Source (which sensor or rule)
    data: tuple[tuple[str, str], ...]  # SimpleItems of the Data
    operation: str = ""  # PropertyOperation: Initialized, Changed, Deleted

    def value(self, name: str) -> str | None:
        return next((v for n, v in self.data if n == name), None)

    @property
    def source_key(self) -> str:
        """Identifies the sensor or rule, so two motion rules are tracked separately."""
        return self.topic + "|" + ",".join(f"{n}={v}" for n, v in self.source)


def strip_topic(topic: str) -> str:
    """'tns1:RuleEngine/CellMotionDetector/Motion' -> 'RuleEngine/CellMotionDetector/Motion'."""
    return "/".join(part.split(":")[-1] for part in topic.strip().split("/"))


def motion_state(notification: Notification) -> bool | None:
    """True or False for a motion notification, None for anything else."""
    for suffix, names in MOTION_TOPICS.items():
        if notification.topic.endswith(suffix):
            for name in names:
                value = notification.value(name)
                if value is not None:
                    return value.strip().lower() in _TRUE
    return None


def parse_notification(message: Any) -> Notification | None:
    """A zeep `NotificationMessage` as a `Notification` (None if it has no topic). The message
    body is a zeep object when the schema is known, else a raw XML element: both are read."""
    topic = _get(_get(message, "Topic"), "_value_1")
    if not topic:
        return None
    body = _get(_get(message, "Message"), "_value_1")
    if hasattr(body, "iterfind"):  # an lxml element zeep could not map
        return Notification(
            topic=strip_topic(str(topic)),
            source=_xml_items(body, "Source"),
            data=_xml_items(body, "Data"),
            operation=str(body.get("PropertyOperation") or ""),
        )
    return Notification(
        topic=strip_topic(str(topic)),
        source=_items(_get(body, "Source")),
        data=_items(_get(body, "Data")),
        operation=str(_get(body, "PropertyOperation") or ""),
    )


def _items(holder: Any) -> tuple[tuple[str, str], ...]:
    items = _get(holder, "SimpleItem") or []
    return tuple((str(_get(i, "Name")), str(_get(i, "Value"))) for i in items)


def _xml_items(element: Any, part: str) -> tuple[tuple[str, str], ...]:
    found = []
    for child in element.iter():
        if not isinstance(child.tag, str) or not child.tag.endswith("}" + part):
            continue
        for item in child.iter():
            if isinstance(item.tag, str) and item.tag.endswith("SimpleItem"):
                found.append((str(item.get("Name")), str(item.get("Value"))))
    return tuple(found)


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)
