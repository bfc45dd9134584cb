"""Saved camera groups: per user, validated, and never showing a camera the user lost."""

from __future__ import annotations

from recorder.accounts.model import Right, Role
from tests.api.conftest import Api

GROUPS = "/api/v1/me/groups"


async def test_groups_are_saved_per_user(api: Api) -> None:
    admin = await api.headers()
    assert (await api.client.get(GROUPS, headers=admin)).json() == []
    body = [{"name": "Yard", "layout": 9, "cameras": ["cam2", "cam1"]}]
    saved = await api.client.put(GROUPS, json=body, headers=admin)
    assert saved.status_code == 200, saved.text
    assert (await api.client.get(GROUPS, headers=admin)).json() == body
    viewer = await api.add_user("vic", Role.VIEWER, {"cam1": {Right.LIVE}})
    assert (await api.client.get(GROUPS, headers=viewer)).json() == []


async def test_bad_groups_are_refused_with_a_reason(api: Api) -> None:
    viewer = await api.add_user("val", Role.VIEWER, {"cam1": {Right.LIVE}})
    cases = [
        [{"name": "A", "layout": 5, "cameras": ["cam1"]}],
        [{"name": " ", "cameras": ["cam1"]}],
        [{"name": "A", "cameras": []}],
        [{"name": "A", "cameras": ["cam1"]}, {"name": "a", "cameras": ["cam1"]}],
        [{"name": "A", "cameras": ["cam2"]}],  # not hers
        [{"name": "A", "cameras": ["cam1"], "extra": 1}],
    ]
    for body in cases:
        response = await api.client.put(GROUPS, json=body, headers=viewer)
        assert response.status_code in (400, 422), (body, response.text)
        assert response.json()["error"]["message"]
    assert (await api.client.get(GROUPS)).status_code == 401


async def test_a_withdrawn_right_drops_the_camera_from_the_group(api: Api) -> None:
    viewer = await api.add_user("wes", Role.VIEWER, {"cam1": {Right.LIVE}, "cam2": {Right.LIVE}})
    body = [{"name": "Both", "layout": 4, "cameras": ["cam1", "cam2"]}]
    assert (await api.client.put(GROUPS, json=body, headers=viewer)).status_code == 200
    accounts = api.parts.context.accounts
    user = await accounts.find("wes")
    assert user is not None
    await accounts.set_rights(user.id, "cam2", frozenset())
    groups = (await api.client.get(GROUPS, headers=viewer)).json()
    assert groups == [{"name": "Both", "layout": 4, "cameras": ["cam1"]}]
