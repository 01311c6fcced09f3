"""Read models are rebuilt from the store and compared with a fresh replay of it."""

from __future__ import annotations

from starlette.testclient import TestClient

from infra.bootstrap import Platform
from tests.integration.scenarios import create, stored_events


def fill(client: TestClient, count: int) -> list[str]:
    ids = [
        create(client, name=f"Campaign <{n}> & co", tags=[f"t{n % 3}"])["id"] for n in range(count)
    ]
    for campaign_id in ids[::2]:
        response = client.patch(f"/api/campaigns/{campaign_id}", json={"name": "Renamed"})
        assert response.status_code == 200, response.text
    return ids


def listed(client: TestClient) -> list[dict[str, object]]:
    response = client.get("/api/campaigns", params={"per_page": 100})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_read_models_equal_a_fresh_replay_of_the_store(
    client: TestClient, platform: Platform
) -> None:
    fill(client, 12)
    platform.feed.catch_up()
    assert platform.verify() == []


def test_verify_names_a_row_that_differs_from_the_replay(
    client: TestClient, platform: Platform
) -> None:
    ids = fill(client, 4)
    platform.feed.catch_up()
    with platform.database.transaction() as cursor:
        cursor.execute("UPDATE campaign_list SET name = 'tampered' WHERE id = ?", (ids[1],))
    differences = platform.verify()
    assert any("campaign_list" in line and "tampered" in line for line in differences)


def test_a_rebuild_gives_back_the_same_list_and_history(
    client: TestClient, platform: Platform
) -> None:
    ids = fill(client, 10)
    platform.feed.catch_up()
    before = listed(client)
    history = platform.campaign_list.history(platform.database, ids[0])
    with platform.database.transaction() as cursor:
        cursor.execute("DELETE FROM campaign_list")  # a damaged read model
    seen: list[tuple[int, int]] = []
    replayed = platform.rebuild(lambda position, count: seen.append((position, count)))
    assert replayed == stored_events(platform)
    assert seen and seen[-1] == (stored_events(platform), replayed)
    assert listed(client) == before
    assert platform.campaign_list.history(platform.database, ids[0]) == history
    assert platform.verify() == []


def test_the_live_feed_goes_on_after_a_rebuild_with_no_gap(
    client: TestClient, platform: Platform
) -> None:
    fill(client, 3)
    platform.rebuild()
    later = create(client, name="After the rebuild")
    platform.feed.catch_up()
    assert later["id"] in [item["id"] for item in listed(client)]
    assert platform.verify() == []
