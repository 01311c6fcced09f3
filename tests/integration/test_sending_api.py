"""Sending seen through the HTTP API, on SQLite and on PostgreSQL: stats, the message log,
short links, the opt-out page, carrier receipts, replies and the Summary's estimate.

The platform is built but not started: no background thread runs. The tests drive the read
models and the sending engine by hand, and the demo carrier reports at once, so what each
test sees does not depend on timing. (Started by the app's lifespan, the engine and the
carrier's thread would race the test's own steps.)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.schemas.activity_answers import CampaignStats, Estimate, MessagePage
from infra.bootstrap import Platform, build
from infra.settings import Settings
from tests.credentials import ADMIN_HEADERS
from tests.integration.scenarios import assert_error

SHORT, OPTOUT = "go.example.com", "out.example.com"
TARGET = "https://shop.example.com/spring"
OUTCOMES = ("delivered", "undelivered", "failed", "no_route", "rejected")
# No simulated clicks, opt-outs or replies, and every message delivered, unless a test says.
QUIET = {"click_rate": 0, "optout_rate": 0, "reply_rate": 0, "outcomes": {"delivered": 1}}


@dataclass
class World:
    client: TestClient
    platform: Platform

    def configure_domains(self, *names: str) -> None:
        response = self.client.post("/api/domains", json={"names": list(names)})
        assert response.status_code in (200, 201), response.text
        for name in names:
            response = self.client.post(f"/api/domains/{name}/configure")
            assert response.status_code == 200, response.text

    def demo_stream(self, **options: Any) -> None:
        response = self.client.patch("/api/streams/demo", json=options)
        assert response.status_code == 200, response.text

    def contact_list(self, phones: list[str], names: list[str] | None = None) -> str:
        names = names or [f"Person{n:03d}" for n in range(len(phones))]
        text = "phone,first_name\n" + "".join(
            f"{phone},{name}\n" for phone, name in zip(phones, names, strict=True)
        )
        response = self.client.post(
            "/api/contact-lists", content=text.encode(), headers={"content-type": "text/csv"}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def campaign(self, lists: list[str], **changes: Any) -> str:
        fields: dict[str, Any] = {
            "name": "Spring sale",
            "sender": "Shop",
            "contact_lists": lists,
            "variants": [
                {"text": "Hi {first_name}, 20% off: {short_url} Stop: {optout_url}", "weight": 3},
                {"text": "Sale now on {short_url} Stop: {optout_url}", "weight": 1},
            ],
            "links": {
                "short": {"target": TARGET, "domains": [SHORT]},
                "optout": {"domains": [OPTOUT]},
            },
            **changes,
        }
        response = self.client.post("/api/campaigns", json=fields)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def launch_and_finish(self, campaign_id: str) -> dict[str, Any]:
        response = self.client.post(f"/api/campaigns/{campaign_id}/launch")
        assert response.status_code == 200, response.text
        for _ in range(100):
            self.platform.feed.catch_up()
            self.platform.sending.engine.run_until_idle()
            campaign: dict[str, Any] = self.client.get(f"/api/campaigns/{campaign_id}").json()
            if campaign["status"] in ("Finished", "Rejected", "Suspended"):
                assert campaign["status"] == "Finished", campaign["status_reason"]
                return campaign
        raise AssertionError(f"the campaign stayed {campaign['status']}")

    def stats(self, campaign_id: str, **query: str) -> dict[str, Any]:
        response = self.client.get(f"/api/campaigns/{campaign_id}/stats", params=query)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        msgspec.convert(body, CampaignStats)  # the answer is what its declaration says
        return body

    def stats_once(
        self, campaign_id: str, done: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """The stats once `done` holds (clicks are written a moment after the visit)."""
        deadline = time.monotonic() + 5
        while not done(found := self.stats(campaign_id)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    def messages(self, campaign_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self.client.get(
                f"/api/campaigns/{campaign_id}/messages", params={"page": page, "per_page": 100}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            msgspec.convert(body, MessagePage)  # the answer is what its declaration says
            items += body["items"]
            if len(items) >= body["total"]:
                return items
            page += 1

    def estimate(self, campaign_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/campaigns/{campaign_id}/estimate")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        msgspec.convert(body, Estimate)  # the answer is what its declaration says
        return body

    def receipts(self, *receipts: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post("/api/carrier/receipts", json={"receipts": list(receipts)})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def world(store: Settings) -> Iterator[World]:
    platform = build(store)
    platform.sending.carrier.delay_scale = 0  # the demo carrier reports as it takes messages
    try:
        with TestClient(
            create_app(platform), headers=ADMIN_HEADERS
        ) as client:  # starts no background thread
            world = World(client, platform)
            world.configure_domains(SHORT, OPTOUT)
            world.demo_stream(**QUIET)
            yield world
    finally:
        platform.close()


def phones(count: int, start: int = 0, prefix: str = "+4477009") -> list[str]:
    return [f"{prefix}{n:05d}" for n in range(start, start + count)]


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sent_campaign(world: World, count: int = 8) -> tuple[str, list[dict[str, Any]]]:
    """A finished campaign whose messages the carrier took but has not reported on yet."""
    world.platform.sending.carrier.delay_scale = 10_000  # its reports wait in its queue
    campaign_id = world.campaign([world.contact_list(phones(count))])
    world.launch_and_finish(campaign_id)
    messages = world.messages(campaign_id)
    assert {m["status"] for m in messages} == {"sent"}
    return campaign_id, messages


# Stats and the message log.


def test_a_finished_campaigns_stats_add_up_and_agree_with_its_message_log(world: World) -> None:
    world.demo_stream(
        outcomes={
            "delivered": 0.6,
            "undelivered": 0.1,
            "failed": 0.1,
            "no_route": 0.1,
            "rejected": 0.1,
        }
    )
    campaign_id = world.campaign([world.contact_list(phones(120))])

    campaign = world.launch_and_finish(campaign_id)
    stats = world.stats(campaign_id)
    messages = world.messages(campaign_id)

    assert stats["recipients"] == stats["sent"] == len(messages) == 120
    assert stats["queued"] == 0
    assert sum(stats[outcome] for outcome in OUTCOMES) == stats["sent"]
    assert all(stats[outcome] > 0 for outcome in OUTCOMES)
    assert stats["delivery_rate"] == round(stats["delivered"] * 100 / 120, 2)
    cost = sum((Decimal(m["cost"]) for m in messages), Decimal(0))
    assert Decimal(stats["cost"]) == cost > 0
    assert Decimal(stats["cost_per_message"]) == (cost / 120).quantize(Decimal("0.0001"))
    assert {m["status"] for m in messages} <= set(OUTCOMES)
    for outcome in OUTCOMES:
        assert stats[outcome] == sum(1 for m in messages if m["status"] == outcome)
    assert stats["started_at"] and stats["finished_at"] == campaign["finished_at"]
    assert campaign["recipients"] == {"total": 120, "sent": 120}
    assert campaign["cost"] == stats["cost"]

    variants = stats["by_variant"]
    assert [v["weight"] for v in variants] == [3, 1]
    assert [v["sent"] for v in variants] == [90, 30]  # the 3:1 ratio, exactly
    assert sum(Decimal(v["cost"]) for v in variants) == cost
    assert [d["domain"] for d in stats["by_domain"]] == [SHORT]
    assert stats["by_domain"][0]["sent"] == 120
    series = stats["series"]
    assert series == sorted(series, key=lambda minute: minute["minute"])
    for metric in ("sent", *OUTCOMES):
        assert sum(minute[metric] for minute in series) == stats[metric]
    assert sum(Decimal(minute["cost"]) for minute in series) == cost

    first = messages[0]
    assert first["short_url"] == f"https://{SHORT}/s/{first['id']}"
    assert first["optout_url"].startswith(f"https://{OPTOUT}/o/")
    assert first["short_url"] in first["text"] and first["optout_url"] in first["text"]


def test_the_campaigns_list_shows_what_a_campaign_sent_its_ctr_and_cost(world: World) -> None:
    campaign_id = world.campaign([world.contact_list(phones(40))])
    world.launch_and_finish(campaign_id)
    stats = world.stats(campaign_id)

    listed = world.client.get("/api/campaigns").json()["items"]
    page = world.client.get("/campaigns").text

    row = next(item for item in listed if item["id"] == campaign_id)
    assert row["recipients"] == {"total": 40, "sent": 40}
    assert row["cost"] == stats["cost"] and row["ctr"] == stats["ctr"]
    assert "40 / 40" in page and stats["cost"] in page


def test_the_message_log_is_paged_like_the_list(world: World) -> None:
    campaign_id = world.campaign([world.contact_list(phones(5))])
    world.launch_and_finish(campaign_id)
    url = f"/api/campaigns/{campaign_id}/messages"

    second = world.client.get(url, params={"page": 2, "per_page": 2}).json()
    beyond = world.client.get(url, params={"page": 9, "per_page": 2}).json()

    assert (second["total"], second["page"], second["per_page"]) == (5, 2, 2)
    assert [m["recipient"] for m in second["items"]] == phones(2, start=2)
    assert beyond["items"] == [] and beyond["total"] == 5
    assert_error(world.client.get(url, params={"per_page": 101}), 422, "validation_failed")
    assert_error(world.client.get(url, params={"page": 0}), 422, "validation_failed")


def test_activity_of_an_unknown_campaign_is_not_found(world: World) -> None:
    for part in ("stats", "messages", "estimate"):
        unknown = world.client.get(f"/api/campaigns/{uuid.uuid4()}/{part}")
        assert_error(unknown, 404, "not_found", part)
        assert_error(world.client.get(f"/api/campaigns/nope/{part}"), 404, "not_found", part)


def test_a_report_as_known_at_a_moment_leaves_out_receipts_recorded_later(
    world: World,
) -> None:
    campaign_id, messages = sent_campaign(world, 4)
    sent_at = datetime.fromisoformat(messages[0]["sent_at"].replace("Z", "+00:00"))
    reported = datetime.now(UTC)
    moment = reported.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    report = world.stats(campaign_id, as_of=moment, known_at=moment)
    while datetime.now(UTC).replace(microsecond=0) <= reported.replace(microsecond=0):
        time.sleep(0.05)  # the receipt must be recorded in a later second than the report
    # A late receipt: recorded now, about something that happened before the report.
    world.receipts({"message_id": messages[0]["id"], "status": "delivered", "at": at(sent_at)})

    happened = world.stats(campaign_id, as_of=moment)
    again = world.stats(campaign_id, as_of=moment, known_at=moment)
    known_now = world.stats(campaign_id, known_at=at(datetime.now(UTC) + timedelta(seconds=1)))

    assert (report["sent"], report["delivered"]) == (4, 0)
    assert happened["delivered"] == 1  # what happened by then, as known now
    assert {k: v for k, v in again.items() if k != "status"} == {
        k: v for k, v in report.items() if k != "status"
    }
    assert again["known_at"] == moment and known_now["delivered"] == 1
    assert world.platform.verify() == []  # the known-time rows are not part of the recount


def test_stats_as_of_a_moment_sum_the_minutes_up_to_it(world: World) -> None:
    campaign_id, messages = sent_campaign(world, 4)
    later = datetime.now(UTC) + timedelta(hours=1)
    world.receipts({"message_id": messages[0]["id"], "status": "delivered", "at": at(later)})
    now = world.stats(campaign_id)

    before = world.stats(campaign_id, as_of=at(later - timedelta(minutes=1)))
    during = world.stats(campaign_id, as_of=at(later.replace(second=59)))
    past_creation = world.client.get(
        f"/api/campaigns/{campaign_id}/stats", params={"as_of": "2001-01-01T00:00:00Z"}
    )
    travelled = world.client.get(
        f"/api/campaigns/{campaign_id}", params={"as_of": at(later)}
    ).json()

    assert now["delivered"] == 1 and now["sent"] == 4
    assert (before["sent"], before["delivered"], before["queued"]) == (4, 0, None)
    assert (during["sent"], during["delivered"]) == (4, 1)
    assert during["by_variant"] is None and during["by_domain"] is None
    assert len(during["series"]) == len(now["series"]) == len(before["series"]) + 1
    assert during["cost"] == now["cost"]
    assert_error(past_creation, 404, "not_found")
    assert travelled["recipients"] == {"total": 4, "sent": 4}
    assert_error(
        world.client.get(f"/api/campaigns/{campaign_id}/stats", params={"as_of": "soon"}),
        422,
        "validation_failed",
    )


# Short links.


def test_a_short_link_counts_each_get_but_not_head_or_link_previews(world: World) -> None:
    campaign_id = world.campaign([world.contact_list(phones(4))])
    world.launch_and_finish(campaign_id)
    first, second = world.messages(campaign_id)[:2]
    path = f"/s/{first['id']}"
    phone = {"user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile"}

    visits = [
        world.client.get(path, headers=phone, follow_redirects=False),
        world.client.get(path, headers=phone, follow_redirects=False),
        world.client.head(path, headers=phone, follow_redirects=False),
        world.client.get(
            path, headers={"user-agent": "WhatsApp/2.23.20 A"}, follow_redirects=False
        ),
        world.client.get(
            path,
            headers={"user-agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"},
            follow_redirects=False,
        ),
        world.client.get(
            path, headers={"user-agent": "FACEBOOKEXTERNALHIT/1.1"}, follow_redirects=False
        ),
    ]
    stats = world.stats_once(campaign_id, lambda found: found["clicks"] >= 1)

    assert [v.status_code for v in visits] == [302] * 6
    assert {v.headers["location"] for v in visits} == {TARGET}
    assert stats["clicks"] == 1 and stats["unique_clicks"] == 1  # the repeat counted once

    world.client.get(f"/s/{second['id']}", headers=phone, follow_redirects=False)
    stats = world.stats_once(campaign_id, lambda found: found["clicks"] >= 2)
    campaign = world.client.get(f"/api/campaigns/{campaign_id}").json()
    clicked = {m["id"]: m["clicked_at"] for m in world.messages(campaign_id)}

    assert stats["clicks"] == 2 and stats["unique_clicks"] == 2
    assert stats["ctr"] == round(2 * 100 / stats["delivered"], 2)
    assert campaign["ctr"] == stats["ctr"]
    assert sum(v["unique_clicks"] for v in stats["by_variant"]) == 2
    assert stats["by_domain"][0]["clicks"] == 2
    assert sum(minute["clicks"] for minute in stats["series"]) == 2
    assert clicked[first["id"]] and clicked[second["id"]]


def test_an_unknown_short_link_is_an_html_page_not_found(world: World) -> None:
    for path in ("/s/AAAAAAAAAA", "/s/not-a-code", "/o/AAAAAAAAAA", "/o/%00"):
        response = world.client.get(path, follow_redirects=False)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert "This link does not exist" in response.text
    assert world.client.head("/s/AAAAAAAAAA").status_code == 404
    assert world.client.post("/o/AAAAAAAAAA").status_code == 404


# Opting out.


def test_the_optout_page_asks_then_opts_the_number_out_of_later_campaigns(world: World) -> None:
    audience = phones(6)
    list_id = world.contact_list(audience)
    campaign_id = world.campaign([list_id])
    world.launch_and_finish(campaign_id)
    message = next(m for m in world.messages(campaign_id) if m["recipient"] == audience[2])
    path = "/o/" + message["optout_url"].rsplit("/", 1)[1]

    page = world.client.get(path)
    assert page.status_code == 200 and "Stop messages from Shop?" in page.text
    assert "+44••••••0002" in page.text and audience[2] not in page.text
    assert world.stats(campaign_id)["opt_outs"] == 0  # looking is not opting out

    confirmed = world.client.post(path)
    again = world.client.post(path)
    shown_again = world.client.get(path)

    assert confirmed.status_code == 200 and "no more messages from Shop" in confirmed.text
    assert again.status_code == 200 and "already opted out" in again.text
    assert "already opted out" in shown_again.text
    assert world.stats(campaign_id)["opt_outs"] == 1

    later = world.campaign([list_id])
    assert world.estimate(later)["recipients"] == 5
    world.launch_and_finish(later)
    assert world.stats(later)["recipients"] == 5
    assert audience[2] not in {m["recipient"] for m in world.messages(later)}


# Receipts.


def test_receipts_never_move_a_status_backwards_and_repeats_count_once(world: World) -> None:
    campaign_id, messages = sent_campaign(world, 4)
    first, second = messages[0]["id"], messages[1]["id"]

    delivered = world.receipts(
        {"message_id": first, "status": "delivered", "at": "2030-01-01T10:00:00Z"},
        {"message_id": first, "status": "delivered", "at": "2030-01-01T10:00:05Z"},
    )
    late = world.receipts(
        {"message_id": first, "status": "sent"},
        {"message_id": first, "status": "failed"},
        {"message_id": "AAAAAAAAAA", "status": "delivered"},
    )
    single = world.client.post(
        "/api/carrier/receipts", json={"message_id": second, "status": "no_route"}
    ).json()
    statuses = {m["id"]: m["status"] for m in world.messages(campaign_id)}
    stats = world.stats(campaign_id)

    assert delivered == {"applied": 1, "ignored": 1}
    assert late == {"applied": 0, "ignored": 3}
    assert single == {"applied": 1, "ignored": 0}
    assert statuses[first] == "delivered" and statuses[second] == "no_route"
    assert (stats["sent"], stats["delivered"], stats["failed"], stats["no_route"]) == (4, 1, 0, 1)


def test_a_batch_with_a_bad_receipt_applies_none_of_them(world: World) -> None:
    campaign_id, messages = sent_campaign(world, 2)
    url = "/api/carrier/receipts"
    good = {"message_id": messages[0]["id"], "status": "delivered"}

    bad_status = world.client.post(url, json={"receipts": [good, {**good, "status": "read"}]})
    bad_time = world.client.post(url, json={"receipts": [good, {**good, "at": "2030-01-01"}]})
    unknown_field = world.client.post(url, json={"receipts": [{**good, "price": 1}]})
    not_a_list = world.client.post(url, json={"receipts": good})
    too_many = world.client.post(url, json={"receipts": [good] * 10_001})

    error = assert_error(bad_status, 422, "validation_failed")
    assert error["details"] == [
        {
            "field": "receipts[1].status",
            "message": "must be one of sent, delivered, undelivered, failed, no_route, rejected",
        }
    ]
    assert assert_error(bad_time, 422, "validation_failed")["details"][0]["field"] == (
        "receipts[1].at"
    )
    assert assert_error(unknown_field, 422, "validation_failed")["details"][0]["field"] == (
        "receipts[0].price"
    )
    assert_error(not_a_list, 422, "validation_failed")
    assert_error(too_many, 422, "validation_failed")
    assert_error(world.client.post(url, content=b"{"), 400, "malformed_json")
    assert world.stats(campaign_id)["delivered"] == 0
    assert world.receipts(*[good] * 10_000) == {"applied": 1, "ignored": 9_999}


# Replies.


def test_an_inbound_stop_opts_the_number_out_and_every_reply_counts(world: World) -> None:
    audience = phones(3)
    campaign_id = world.campaign([world.contact_list(audience)], type="two_way", sender="447700")
    world.launch_and_finish(campaign_id)

    def reply(sender: str, text: str) -> dict[str, Any]:
        response = world.client.post("/api/inbound", json={"from": sender, "text": text})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    stop = reply("0044 7700 900001", "Stop.")
    repeated = reply("+447700900001", "STOP")
    thanks = reply("+447700900002", "Thanks, stop by later")
    stranger = reply("+15555550100", "stop")
    stats = world.stats(campaign_id)

    assert stop == {"campaign_id": campaign_id, "opted_out": True}
    assert repeated == {"campaign_id": campaign_id, "opted_out": False}
    assert thanks == {"campaign_id": campaign_id, "opted_out": False}
    assert stranger == {"campaign_id": None, "opted_out": True}
    assert (stats["replies"], stats["opt_outs"]) == (3, 1)
    later = world.campaign([world.contact_list(audience)])
    assert world.estimate(later)["recipients"] == 2

    bad_number = world.client.post("/api/inbound", json={"from": "07700 900001", "text": "x"})
    assert assert_error(bad_number, 422, "validation_failed")["details"][0]["field"] == "from"
    missing_text = world.client.post("/api/inbound", json={"from": "+447700900001"})
    assert assert_error(missing_text, 422, "validation_failed")["details"][0]["field"] == "text"


# The Summary's estimate.


def test_the_estimate_is_what_the_campaign_then_costs(world: World) -> None:
    # 31 recipients (not a whole number of 3:1 blocks), every number under one price prefix.
    audience = phones(31)
    long_text = "Hi {first_name}, " + "spring sale " * 12 + "{short_url} Stop: {optout_url}"
    variants = [
        {"text": long_text, "weight": 3},  # GSM-7, two parts
        {"text": "Zniżki {short_url} {optout_url}", "weight": 1},  # UCS-2, two parts
    ]
    campaign_id = world.campaign([world.contact_list(audience)], variants=variants)

    estimate = world.estimate(campaign_id)
    world.launch_and_finish(campaign_id)
    stats = world.stats(campaign_id)
    messages = world.messages(campaign_id)

    assert estimate["recipients"] == 31
    assert estimate["by_prefix"] == [
        {"prefix": "447", "recipients": 31, "price_per_part": "0.0380"}
    ]
    assert [(v["encoding"], v["parts"]) for v in estimate["variants"]] == [
        ("GSM-7", 2),
        ("UCS-2", 2),
    ]
    assert estimate["variants"][0]["sample"].startswith("Hi Person000, spring sale")
    assert f"https://{SHORT}/s/" in estimate["variants"][0]["sample"]
    assert estimate["link_domains"] == {"short": SHORT, "optout": OPTOUT}
    assert [v["recipients"] for v in estimate["variants"]] == [
        v["sent"] for v in stats["by_variant"]
    ]
    assert estimate["cost"] == stats["cost"] == "2.3560"  # 31 x 2 parts x 0.0380
    assert estimate["parts"] == sum(m["parts"] for m in messages)
    assert [v["cost"] for v in estimate["variants"]] == [v["cost"] for v in stats["by_variant"]]


def test_the_estimate_prices_each_destination_by_its_longest_prefix(world: World) -> None:
    audience = [
        *phones(3, prefix="+1202555"),  # 0.0075
        *phones(2, prefix="+4420790"),  # 44: 0.0400
        *phones(4, prefix="+4477009"),  # 447: 0.0380
        *phones(3, prefix="+4915112"),  # 49: 0.0750
        *phones(1, prefix="+8613800"),  # the default: 0.0500
    ]
    campaign_id = world.campaign([world.contact_list(audience)])

    estimate = world.estimate(campaign_id)
    world.launch_and_finish(campaign_id)
    stats = world.stats(campaign_id)

    assert {(p["prefix"], p["recipients"], p["price_per_part"]) for p in estimate["by_prefix"]} == {
        ("447", 4, "0.0380"),
        ("44", 2, "0.0400"),
        ("49", 3, "0.0750"),
        ("1", 3, "0.0075"),
        ("", 1, "0.0500"),
    }
    assert estimate["recipients"] == 13
    assert estimate["cost"] == stats["cost"]
    assert [v["cost"] for v in estimate["variants"]] == [v["cost"] for v in stats["by_variant"]]


def test_the_estimate_of_a_draft_without_lists_or_texts_is_empty(world: World) -> None:
    response = world.client.post("/api/campaigns", json={"name": "Empty"})
    campaign_id = response.json()["id"]

    estimate = world.estimate(campaign_id)

    assert (estimate["recipients"], estimate["parts"], estimate["cost"]) == (0, 0, "0.0000")
    assert estimate["variants"] == [] and estimate["cost_per_message"] is None


# The stats as a read model: recounted from the activity rows.


def test_the_stats_equal_a_recount_of_the_activity_rows(world: World) -> None:
    world.demo_stream(
        click_rate=0.3,
        optout_rate=0.1,
        reply_rate=0.2,
        outcomes={"delivered": 0.7, "undelivered": 0.1, "failed": 0.1, "rejected": 0.1},
    )
    campaign_id = world.campaign([world.contact_list(phones(60))], type="two_way", sender="12345")
    world.launch_and_finish(campaign_id)
    activity = world.platform.activity
    assert world.stats(campaign_id)["clicks"] > 0
    assert activity.stats.verify_stats() == []
    with world.platform.database.transaction() as cursor:
        cursor.execute(
            "UPDATE stats SET delivered = delivered + 1 "
            "WHERE campaign_id = ? AND scope = 'campaign'",
            (campaign_id,),
        )
    differences = activity.stats.verify_stats()
    assert len(differences) == 1 and "delivered" in differences[0]
    before = world.stats(campaign_id)
    activity.stats.rebuild_stats()
    assert activity.stats.verify_stats() == []
    after = world.stats(campaign_id)
    assert after["delivered"] == before["delivered"] - 1
    assert after["series"] == before["series"] and after["by_variant"] == before["by_variant"]


def test_domain_usage_rows_follow_the_domains_and_equal_a_replay(world: World) -> None:
    campaign_id = world.campaign([world.contact_list(phones(30))])
    world.launch_and_finish(campaign_id)
    platform = world.platform
    platform.domain_feed.catch_up()
    rows = {row["name"]: row for row in platform.domain_usage.domains(platform.database)}
    for name in (SHORT, OPTOUT):
        domain = next(d for d in platform.app.list_domains() if d.name == name)
        assert rows[name]["usage"] == domain.usage == 30
        assert rows[name]["status"] == domain.status.value == "Configured"
    assert platform.domain_usage.campaign_usage(platform.database, campaign_id) == {
        OPTOUT: 30,
        SHORT: 30,
    }
    assert platform.verify() == []
    with platform.database.transaction() as cursor:
        cursor.execute("UPDATE domain_usage SET usage = 0")
    assert any("domain_usage" in line for line in platform.verify())
    platform.rebuild(view="domains")
    assert platform.verify() == []


def test_short_link_visits_are_written_in_batches_and_limited_per_address(
    world: World,
) -> None:
    """Finding 5: a recipient's loop on a link counts once per moment, its clicks are
    written together, and an address opening links without end is refused."""
    campaign_id = world.campaign([world.contact_list(phones(3))])
    world.launch_and_finish(campaign_id)
    first = world.messages(campaign_id)[0]
    phone = {"user-agent": "Mozilla/5.0 (Linux; Android 14) Mobile"}
    answers = [
        world.client.get(f"/s/{first['id']}", headers=phone, follow_redirects=False).status_code
        for _ in range(70)
    ]
    assert answers[:60] == [302] * 60 and set(answers[60:]) == {429}
    stats = world.stats_once(campaign_id, lambda found: found["clicks"] >= 1)
    time.sleep(0.6)  # a second write would have come by now
    assert world.stats(campaign_id)["clicks"] == stats["clicks"] == 1


# Metrics.


def test_metrics_count_the_messages_sent_per_stream_and_time_the_requests(world: World) -> None:
    world.demo_stream(outcomes={"delivered": 0.5, "failed": 0.5})
    campaign_id = world.campaign([world.contact_list(phones(40))])
    world.launch_and_finish(campaign_id)
    stats = world.stats(campaign_id)

    scraped = world.client.get("/metrics")
    families = {f.name: f for f in text_string_to_metric_families(scraped.text)}

    assert scraped.status_code == 200
    demo = {
        sample.labels["status"]: sample.value
        for sample in families["campaigns_messages"].samples
        if sample.name == "campaigns_messages_total" and sample.labels["stream"] == "demo"
    }
    assert demo["sent"] == stats["sent"] == 40
    assert demo["delivered"] == stats["delivered"] and demo["failed"] == stats["failed"]
    assert demo["delivered"] + demo["failed"] == 40
    assert demo["undelivered"] == demo["no_route"] == demo["suppressed"] == 0
    queued = families["campaigns_messages_queued"].samples
    assert [(s.labels["stream"], s.value) for s in queued] == [("demo", 0)]
    launch = {"route": "/api/campaigns/{id}/{command}", "method": "POST", "status": "2xx"}
    timed = [
        sample
        for sample in families["campaigns_http_request_duration_seconds"].samples
        if launch.items() <= sample.labels.items()
    ]
    buckets = [s.value for s in timed if s.name.endswith("_bucket")]
    assert [s.value for s in timed if s.name.endswith("_count")] == [1]
    assert buckets == sorted(buckets) and buckets[-1] == 1 and len(buckets) > 10
