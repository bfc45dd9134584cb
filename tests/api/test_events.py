"""Motion events through the API: list and filter, paging, thumbnail, playback, clip, timeline,
dashboard, real-time notices, and the playback right on every event endpoint."""

from __future__ import annotations

import asyncio
from urllib.parse import urljoin

import pytest

from recorder.accounts.model import Principal, Right, Role
from recorder.motion.model import EventNotice, NoticeKind
from tests.api.conftest import START, THUMBNAIL, Api
from tests.api.test_clips import frames_of, ready

T0 = round(START * 1000)


async def test_events_are_listed_newest_first_with_their_details(api: Api) -> None:
    admin = await api.headers()
    response = await api.client.get("/api/v1/events", headers=admin)
    assert response.status_code == 200, response.text
    page = response.json()
    assert [e["start_ms"] for e in page["events"]] == [T0 + 20_000, T0 + 5_000, T0 + 2_000]
    assert page["next_cursor"] is None
    first = page["events"][0]
    assert first == {
        "id": api.events[1].id,
        "camera_id": "cam1",
        "source": "software",
        "kind": "motion",
        "label": "",
        "start_ms": T0 + 20_000,
        "end_ms": T0 + 30_000,
        "score": 0.12,
        "zones": ["yard"],
        "box": {"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4},
        "has_thumbnail": True,
        "record_start_ms": T0 + 15_000,
        "record_end_ms": T0 + 60_000,
    }
    assert not any("thumbnails/" in str(value) for value in first.values())  # no paths


@pytest.mark.parametrize(
    ("query", "starts"),
    [
        ("camera=cam1", [20_000, 2_000]),
        ("camera=cam2", [5_000]),
        ("camera=cam1&camera=cam2", [20_000, 5_000, 2_000]),
        (f"start={T0 + 7_000}", [20_000, 5_000]),  # events still going at 7 s, or later
        (f"end={T0 + 5_000}", [2_000]),  # events starting before 5 s
        ("zone=yard", [20_000, 5_000, 2_000]),
        ("zone=gate", []),
        ("source=onvif", []),
        ("source=software&source=both", [20_000, 5_000, 2_000]),
    ],
)
async def test_events_are_filtered(api: Api, query: str, starts: list[int]) -> None:
    admin = await api.headers()
    response = await api.client.get(f"/api/v1/events?{query}", headers=admin)
    assert response.status_code == 200, response.text
    assert [e["start_ms"] - T0 for e in response.json()["events"]] == starts


async def test_pages_follow_the_cursor_without_repeats_or_holes(api: Api) -> None:
    admin = await api.headers()
    seen, cursor = [], None
    for _ in range(5):
        query = "limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.client.get(f"/api/v1/events?{query}", headers=admin)).json()
        seen += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(e.id for e in api.events)
    assert len(seen) == len(set(seen))


async def test_one_camera_events_and_one_event(api: Api) -> None:
    admin = await api.headers()
    page = (await api.client.get("/api/v1/cameras/cam2/events", headers=admin)).json()
    assert [e["camera_id"] for e in page["events"]] == ["cam2"]
    event = api.events[0]
    one = await api.client.get(f"/api/v1/events/{event.id}", headers=admin)
    assert one.status_code == 200 and one.json()["start_ms"] == event.start_ms
    missing = await api.client.get("/api/v1/events/999999", headers=admin)
    assert missing.status_code == 404 and "no event" in missing.json()["error"]["message"]


async def test_thumbnail_is_served_when_the_event_has_one(api: Api) -> None:
    admin = await api.headers()
    with_thumb, without = api.events[1], api.events[0]
    response = await api.client.get(f"/api/v1/events/{with_thumb.id}/thumbnail.jpg", headers=admin)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content == THUMBNAIL
    none = await api.client.get(f"/api/v1/events/{without.id}/thumbnail.jpg", headers=admin)
    assert none.status_code == 404


async def test_event_playback_covers_its_recording_range_and_its_segments_resolve(
    api: Api,
) -> None:
    admin = await api.headers()
    event = api.events[0]  # record range T0-3 s .. T0+36 s: the first 35 s run
    url = f"http://recorder/api/v1/events/{event.id}/playback.m3u8"
    response = await api.client.get(url, headers=admin)
    assert response.status_code == 200, response.text
    lines = response.text.splitlines()
    uris = [line for line in lines if line and not line.startswith("#")]
    expected = await api.index.segments_between("cam1", T0 - 3_000, T0 + 36_000)
    assert len(uris) == len(expected) >= 3
    for uri in uris:
        segment = await api.client.get(urljoin(url, uri), headers=admin)
        assert segment.status_code == 200, uri
        assert segment.headers["content-type"] == "video/mp4"


async def test_a_clip_of_an_event_holds_its_recorded_range(api: Api) -> None:
    admin = await api.headers()
    event = api.events[0]
    created = await api.client.post(f"/api/v1/events/{event.id}/clip", headers=admin)
    assert created.status_code == 202, created.text
    clip = await ready(api, admin, created.json()["id"])
    assert clip["status"] == "ready", clip
    assert clip["name"] == f"event {event.id}"
    download = await api.client.get(f"/api/v1/clips/{clip['id']}/download", headers=admin)
    # Recorded: T0 .. T0+35 s; the event's range T0-3 s .. T0+36 s covers all of it.
    assert len(frames_of(download.content)) == pytest.approx(35 * 15, abs=3)


async def test_timeline_marks_the_events(api: Api) -> None:
    admin = await api.headers()
    response = await api.client.get(
        f"/api/v1/cameras/cam1/timeline?start={T0}&end={T0 + 3_600_000}", headers=admin
    )
    body = response.json()
    assert [(e["start_ms"] - T0, e["end_ms"] - T0) for e in body["events"]] == [
        (2_000, 6_000),
        (20_000, 30_000),
    ]
    assert [e["has_thumbnail"] for e in body["events"]] == [False, True]
    assert body["events_truncated"] is False


async def test_dashboard_counts_events_since_midnight(api: Api) -> None:
    admin = await api.headers()
    # The clock is at START + 1 h: 2023-11-14T23:13:20Z, the same UTC day as every event.
    utc = (await api.client.get("/api/v1/dashboard", headers=admin)).json()
    assert utc["events_today"] == 3
    # In Paris (UTC+1) it is 00:13 on the 15th: they all happened yesterday.
    paris = await api.client.get("/api/v1/dashboard?tz=Europe/Paris", headers=admin)
    assert paris.json()["events_today"] == 0
    viewer = await api.add_user("vi", Role.VIEWER, {"cam2": {Right.PLAYBACK}})
    mine = (await api.client.get("/api/v1/dashboard", headers=viewer)).json()
    assert mine["events_today"] == 1
    bad = await api.client.get("/api/v1/dashboard?tz=Mars/Olympus", headers=admin)
    assert bad.status_code == 400


async def test_a_viewer_without_the_camera_gets_403_on_its_event_endpoints(api: Api) -> None:
    viewer = await api.add_user("vic", Role.VIEWER, {"cam2": {Right.LIVE, Right.PLAYBACK}})
    cam1 = api.events[1]
    for method, path in [
        ("GET", "/api/v1/cameras/cam1/events"),
        ("GET", "/api/v1/events?camera=cam1"),
        ("GET", "/api/v1/events?camera=cam2&camera=cam1"),
    ]:
        response = await api.client.request(method, path, headers=viewer)
        assert response.status_code == 403, (method, path, response.text)
    # By id, another camera's event looks exactly like one that does not exist: ids are not a
    # way to learn which events (and cameras) there are.
    missing = 2**40
    for method, suffix in [
        ("GET", ""),
        ("GET", "/thumbnail.jpg"),
        ("GET", "/playback.m3u8"),
        ("POST", "/clip"),
    ]:
        hidden = await api.client.request(
            method, f"/api/v1/events/{cam1.id}{suffix}", headers=viewer
        )
        absent = await api.client.request(
            method, f"/api/v1/events/{missing}{suffix}", headers=viewer
        )
        assert hidden.status_code == absent.status_code == 404, (suffix, hidden.text)
        assert hidden.json()["error"]["message"] == f"no event {cam1.id}"
        assert absent.json()["error"]["message"] == f"no event {missing}"
        assert "cam1" not in hidden.text
    listed = (await api.client.get("/api/v1/events", headers=viewer)).json()
    assert {e["camera_id"] for e in listed["events"]} == {"cam2"}
    timeline = await api.client.get(
        f"/api/v1/cameras/cam1/timeline?start={T0}&end={T0 + 60_000}", headers=viewer
    )
    assert timeline.status_code == 403


async def test_events_need_the_playback_right_not_just_live(api: Api) -> None:
    viewer = await api.add_user("liv", Role.VIEWER, {"cam1": {Right.LIVE}})
    event = api.events[0]
    assert (await api.client.get("/api/v1/cameras/cam1/events", headers=viewer)).status_code == 403
    assert (await api.client.get(f"/api/v1/events/{event.id}", headers=viewer)).status_code == 404
    listed = (await api.client.get("/api/v1/events", headers=viewer)).json()
    assert listed["events"] == []


async def test_every_event_endpoint_requires_a_token(api: Api) -> None:
    event = api.events[1]
    for method, path in [
        ("GET", "/api/v1/events"),
        ("GET", "/api/v1/cameras/cam1/events"),
        ("GET", f"/api/v1/events/{event.id}"),
        ("GET", f"/api/v1/events/{event.id}/thumbnail.jpg"),
        ("GET", f"/api/v1/events/{event.id}/playback.m3u8"),
        ("POST", f"/api/v1/events/{event.id}/clip"),
    ]:
        response = await api.client.request(method, path)
        assert response.status_code == 401, (method, path)


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("limit=0", 422, "limit"),
        ("limit=501", 422, "limit"),
        ("cursor=junk", 400, "cursor"),
        (f"start={T0 + 10_000}&end={T0}", 400, "start must be before end"),
        ("start=yesterday", 400, "start"),
        ("source=psychic", 422, "source"),
        ("zone=", 422, "zone"),
    ],
)
async def test_bad_event_queries_get_a_reason(
    api: Api, query: str, status: int, reason: str
) -> None:
    admin = await api.headers()
    response = await api.client.get(f"/api/v1/events?{query}", headers=admin)
    assert response.status_code == status, response.text
    assert reason in response.json()["error"]["message"]


async def test_event_notices_reach_only_clients_allowed_to_see_the_camera(api: Api) -> None:
    ctx = api.parts.context
    accounts = ctx.accounts
    allowed_user = await accounts.create("al", "pw-al-12345", Role.VIEWER)
    await accounts.set_rights(allowed_user.id, "cam1", frozenset({Right.PLAYBACK}))
    other_user = await accounts.create("ot", "pw-ot-12345", Role.VIEWER)
    await accounts.set_rights(other_user.id, "cam2", frozenset({Right.PLAYBACK}))
    principals = []
    for user in (allowed_user, other_user):
        rights = (await accounts.get(user.id)).rights
        principals.append(Principal(user.id, user.username, user.role, rights, "s"))
    allowed, other = (ctx.hub.subscribe(p) for p in principals)
    api.motion.bus.publish(EventNotice(NoticeKind.START, api.events[1]))
    message = await asyncio.wait_for(allowed.next_message(), timeout=0.5)
    assert message["type"] == "event.start"
    assert message["event"]["id"] == api.events[1].id
    assert other.queue.empty()


async def test_an_event_the_caller_sees_but_may_not_export_is_a_403(api: Api) -> None:
    viewer = await api.add_user("vlad", Role.VIEWER, {"cam1": {Right.PLAYBACK}})
    event = api.events[1]
    assert (await api.client.get(f"/api/v1/events/{event.id}", headers=viewer)).status_code == 200
    clip = await api.client.post(f"/api/v1/events/{event.id}/clip", headers=viewer)
    assert clip.status_code == 403 and "export" in clip.json()["error"]["message"]
