"""Sending schedules: week days and a daily window in the campaign's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.schedule import describe, is_open, next_opening

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
OFFICE_UTC = {"days": WEEKDAYS, "from": "09:00", "to": "17:00", "time_zone": "UTC"}
OFFICE_BERLIN = {**OFFICE_UTC, "time_zone": "Europe/Berlin"}
EVERY_DAY_BERLIN = {**OFFICE_BERLIN, "days": [*WEEKDAYS, "sat", "sun"]}
FRIDAY_NIGHT = {"days": ["fri"], "from": "22:00", "to": "06:00", "time_zone": "UTC"}
SUNDAY_NIGHT = {"days": ["sun"], "from": "22:00", "to": "06:00", "time_zone": "UTC"}
EVENINGS_TO_MIDNIGHT = {"days": ["sat", "sun"], "from": "18:00", "to": "00:00", "time_zone": "UTC"}


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# 2024-01-01 is a Monday, 2024-01-05 a Friday, 2024-01-07 a Sunday.


def test_without_a_schedule_messages_may_leave_any_time() -> None:
    assert is_open(None, utc(2024, 1, 6, 3))
    assert next_opening(None, utc(2024, 1, 6, 3)) == utc(2024, 1, 6, 3)


def test_the_window_is_open_at_its_exact_start() -> None:
    assert is_open(OFFICE_UTC, utc(2024, 1, 1, 9))


def test_the_window_is_closed_just_before_its_start() -> None:
    assert not is_open(OFFICE_UTC, utc(2024, 1, 1, 8, 59, 59))


def test_the_window_is_open_just_before_its_end() -> None:
    assert is_open(OFFICE_UTC, utc(2024, 1, 1, 16, 59, 59))


def test_the_window_is_closed_at_its_exact_end() -> None:
    assert not is_open(OFFICE_UTC, utc(2024, 1, 1, 17))


def test_a_day_not_in_the_schedule_is_closed_all_day() -> None:
    assert not is_open(OFFICE_UTC, utc(2024, 1, 6, 12))  # Saturday
    assert not is_open(OFFICE_UTC, utc(2024, 1, 7, 12))  # Sunday


def test_the_window_is_read_in_the_schedules_time_zone() -> None:
    # Berlin is UTC+1 in winter: 09:00 there is 08:00 UTC.
    assert not is_open(OFFICE_BERLIN, utc(2024, 1, 15, 7, 59))
    assert is_open(OFFICE_BERLIN, utc(2024, 1, 15, 8))
    assert is_open(OFFICE_BERLIN, utc(2024, 1, 15, 15, 59))
    assert not is_open(OFFICE_BERLIN, utc(2024, 1, 15, 16))


def test_the_week_day_is_the_local_one_not_the_utc_one() -> None:
    tokyo = {"days": ["mon"], "from": "08:00", "to": "10:00", "time_zone": "Asia/Tokyo"}
    # Sunday 23:30 UTC is Monday 08:30 in Tokyo.
    assert is_open(tokyo, utc(2024, 1, 7, 23, 30))
    assert not is_open(tokyo, utc(2024, 1, 8, 8, 30))  # Monday UTC, Monday 17:30 in Tokyo


def test_summer_time_moves_the_window_an_hour_earlier_in_utc() -> None:
    # Berlin is UTC+2 in summer: 09:00 there is 07:00 UTC.
    assert is_open(OFFICE_BERLIN, utc(2024, 7, 1, 7))
    assert not is_open(OFFICE_BERLIN, utc(2024, 7, 1, 6, 59))
    assert not is_open(OFFICE_BERLIN, utc(2024, 7, 1, 15))


def test_on_the_spring_forward_day_the_window_opens_at_local_nine() -> None:
    # 2024-03-31 (Sunday): Berlin jumps from 02:00 CET to 03:00 CEST.
    assert not is_open(EVERY_DAY_BERLIN, utc(2024, 3, 30, 7, 30))  # Saturday 08:30 CET
    assert is_open(EVERY_DAY_BERLIN, utc(2024, 3, 30, 8))  # Saturday 09:00 CET
    assert not is_open(EVERY_DAY_BERLIN, utc(2024, 3, 31, 6, 59))  # Sunday 08:59 CEST
    assert is_open(EVERY_DAY_BERLIN, utc(2024, 3, 31, 7))  # Sunday 09:00 CEST
    assert not is_open(EVERY_DAY_BERLIN, utc(2024, 3, 31, 15))  # Sunday 17:00 CEST


def test_on_the_fall_back_day_the_window_opens_at_local_nine() -> None:
    # 2024-10-27 (Sunday): Berlin goes back from 03:00 CEST to 02:00 CET.
    assert is_open(EVERY_DAY_BERLIN, utc(2024, 10, 26, 7))  # Saturday 09:00 CEST
    assert not is_open(EVERY_DAY_BERLIN, utc(2024, 10, 27, 7))  # Sunday 08:00 CET
    assert is_open(EVERY_DAY_BERLIN, utc(2024, 10, 27, 8))  # Sunday 09:00 CET
    assert not is_open(EVERY_DAY_BERLIN, utc(2024, 10, 27, 16))  # Sunday 17:00 CET


def test_an_overnight_window_spanning_the_spring_forward_night_is_an_hour_shorter() -> None:
    night = {"days": ["sat"], "from": "22:00", "to": "06:00", "time_zone": "Europe/Berlin"}
    assert not is_open(night, utc(2024, 3, 30, 20, 59))  # Saturday 21:59 CET
    assert is_open(night, utc(2024, 3, 30, 21))  # Saturday 22:00 CET
    assert is_open(night, utc(2024, 3, 31, 1, 30))  # Sunday 03:30 CEST
    assert is_open(night, utc(2024, 3, 31, 3, 59))  # Sunday 05:59 CEST
    assert not is_open(night, utc(2024, 3, 31, 4))  # Sunday 06:00 CEST


def test_an_overnight_window_spanning_the_fall_back_night_closes_at_local_six() -> None:
    night = {"days": ["sat"], "from": "22:00", "to": "06:00", "time_zone": "Europe/Berlin"}
    assert is_open(night, utc(2024, 10, 26, 20))  # Saturday 22:00 CEST
    assert is_open(night, utc(2024, 10, 27, 0, 30))  # Sunday 02:30 CEST (first pass)
    assert is_open(night, utc(2024, 10, 27, 1, 30))  # Sunday 02:30 CET (second pass)
    assert is_open(night, utc(2024, 10, 27, 4, 59))  # Sunday 05:59 CET
    assert not is_open(night, utc(2024, 10, 27, 5))  # Sunday 06:00 CET


def test_an_overnight_window_is_open_on_both_sides_of_midnight() -> None:
    assert is_open(FRIDAY_NIGHT, utc(2024, 1, 5, 22))  # Friday 22:00
    assert is_open(FRIDAY_NIGHT, utc(2024, 1, 5, 23, 59))
    assert is_open(FRIDAY_NIGHT, utc(2024, 1, 6, 0))  # Saturday midnight
    assert is_open(FRIDAY_NIGHT, utc(2024, 1, 6, 5, 59))


def test_an_overnight_window_closes_at_its_end_the_next_morning() -> None:
    assert not is_open(FRIDAY_NIGHT, utc(2024, 1, 6, 6))
    assert not is_open(FRIDAY_NIGHT, utc(2024, 1, 5, 21, 59))


def test_an_overnight_window_belongs_to_the_day_it_opens() -> None:
    # Friday 02:00 is the end of Thursday's night, and Thursday is not in the schedule.
    assert not is_open(FRIDAY_NIGHT, utc(2024, 1, 5, 2))
    # Saturday 22:00 would open Saturday's night, and Saturday is not in the schedule.
    assert not is_open(FRIDAY_NIGHT, utc(2024, 1, 6, 22))


def test_an_overnight_window_from_sunday_runs_into_monday_across_the_week_boundary() -> None:
    assert is_open(SUNDAY_NIGHT, utc(2024, 1, 7, 23))  # Sunday 23:00
    assert is_open(SUNDAY_NIGHT, utc(2024, 1, 8, 3))  # Monday 03:00
    assert not is_open(SUNDAY_NIGHT, utc(2024, 1, 8, 6))  # Monday 06:00
    assert not is_open(SUNDAY_NIGHT, utc(2024, 1, 7, 3))  # Sunday 03:00: Saturday's night
    assert not is_open(SUNDAY_NIGHT, utc(2024, 1, 8, 23))  # Monday 23:00


def test_a_window_ending_at_midnight_runs_to_the_end_of_the_day() -> None:
    assert is_open(EVENINGS_TO_MIDNIGHT, utc(2024, 1, 6, 18))
    assert is_open(EVENINGS_TO_MIDNIGHT, utc(2024, 1, 6, 23, 59, 59))
    assert not is_open(EVENINGS_TO_MIDNIGHT, utc(2024, 1, 7, 0, 0, 1))
    assert not is_open(EVENINGS_TO_MIDNIGHT, utc(2024, 1, 6, 17, 59))


def test_a_window_starting_at_midnight_is_open_from_midnight() -> None:
    early = {"days": ["mon"], "from": "00:00", "to": "06:00", "time_zone": "UTC"}
    assert is_open(early, utc(2024, 1, 1, 0))
    assert not is_open(early, utc(2024, 1, 1, 6))
    assert not is_open(early, utc(2023, 12, 31, 23, 59))


def test_the_next_opening_of_an_open_window_is_now() -> None:
    moment = utc(2024, 1, 1, 10, 15)
    assert next_opening(OFFICE_UTC, moment) == moment


def test_the_next_opening_before_the_start_is_the_start_the_same_day() -> None:
    assert next_opening(OFFICE_UTC, utc(2024, 1, 1, 7, 30)) == utc(2024, 1, 1, 9)


def test_the_next_opening_after_the_end_is_the_start_the_next_day() -> None:
    assert next_opening(OFFICE_UTC, utc(2024, 1, 1, 17)) == utc(2024, 1, 2, 9)


def test_the_next_opening_skips_days_not_in_the_schedule() -> None:
    assert next_opening(OFFICE_UTC, utc(2024, 1, 5, 18)) == utc(2024, 1, 8, 9)  # Fri to Mon


def test_the_next_opening_of_a_weekly_window_just_closed_is_a_week_later() -> None:
    mondays = {**OFFICE_UTC, "days": ["mon"]}
    assert next_opening(mondays, utc(2024, 1, 1, 17)) == utc(2024, 1, 8, 9)


def test_the_next_opening_of_an_overnight_window_is_its_evening_start() -> None:
    assert next_opening(FRIDAY_NIGHT, utc(2024, 1, 6, 7)) == utc(2024, 1, 12, 22)
    assert next_opening(SUNDAY_NIGHT, utc(2024, 1, 8, 6)) == utc(2024, 1, 14, 22)


def test_the_next_opening_is_in_the_schedules_time_zone() -> None:
    opening = next_opening(OFFICE_BERLIN, utc(2024, 1, 15, 6))
    assert opening == utc(2024, 1, 15, 8)


def test_the_next_opening_across_the_spring_forward_night_is_local_nine() -> None:
    opening = next_opening(EVERY_DAY_BERLIN, utc(2024, 3, 30, 20))  # Saturday evening
    assert opening == utc(2024, 3, 31, 7)  # Sunday 09:00 CEST


def test_the_next_opening_across_the_fall_back_night_is_local_nine() -> None:
    opening = next_opening(EVERY_DAY_BERLIN, utc(2024, 10, 26, 20))
    assert opening == utc(2024, 10, 27, 8)  # Sunday 09:00 CET


@pytest.mark.parametrize(
    "schedule",
    [
        OFFICE_UTC,
        OFFICE_BERLIN,
        FRIDAY_NIGHT,
        SUNDAY_NIGHT,
        EVENINGS_TO_MIDNIGHT,
        {"days": ["sat"], "from": "22:00", "to": "06:00", "time_zone": "Europe/Berlin"},
        {"days": ["tue", "sun"], "from": "08:15", "to": "20:45", "time_zone": "America/New_York"},
    ],
)
def test_the_next_opening_is_the_first_open_moment_from_any_moment(
    schedule: dict[str, Any],
) -> None:
    # Every 97 minutes through both of 2024's European clock-change weeks.
    for start in (utc(2024, 3, 25), utc(2024, 10, 21)):
        for step in range(0, 14 * 24 * 60, 97):
            moment = start + timedelta(minutes=step)
            opening = next_opening(schedule, moment)
            assert opening >= moment
            assert is_open(schedule, opening)
            if opening > moment:
                assert not is_open(schedule, moment)
                assert not is_open(schedule, opening - timedelta(minutes=1))
            assert opening - moment <= timedelta(days=7)


def test_a_schedule_is_described_in_words() -> None:
    assert describe(None) == "any time"
    assert describe(OFFICE_BERLIN) == "mon, tue, wed, thu, fri 09:00-17:00 Europe/Berlin"
