"""Cron expressions read in a time zone, the fires a tick starts, and fire run ids: no
database needed."""

from __future__ import annotations

import datetime

import pytest

import treadle as tr
from treadle.runtime import schedules
from treadle.runtime.schedules import CatchUp, Cron

PARIS = datetime.timezone(datetime.timedelta(hours=1))
T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC


def at(text: str) -> float:
    return datetime.datetime.fromisoformat(text).timestamp()


def test_next_after_is_strictly_after() -> None:
    cron = Cron("*/15 * * * *")
    assert cron.next_after(T0) == T0 + 900
    assert cron.next_after(T0 - 0.5) == T0
    assert Cron("* * * * * *").next_after(T0 + 0.25) == T0 + 1


def test_latest_until_includes_its_moment() -> None:
    cron = Cron("*/15 * * * *")
    assert cron.latest_until(T0) == T0
    assert cron.latest_until(T0 + 899.9) == T0
    assert cron.latest_until(T0 + 900) == T0 + 900


def test_six_fields_take_seconds_first_and_aliases_are_read() -> None:
    assert Cron("30 0 * * * *").next_after(T0) == T0 + 30
    assert Cron("@hourly").next_after(T0) == T0 + 3600
    assert Cron("  0   3 * * *  ").expression == "0 3 * * *"


def test_a_time_zone_reads_the_fields_as_its_wall_clock() -> None:
    cron = Cron("0 9 * * *", "Europe/Paris")
    assert cron.next_after(T0) == at("2026-01-01T09:00:00+01:00")
    assert cron.next_after(at("2026-07-01T00:00:00+00:00")) == at("2026-07-01T09:00:00+02:00")


def test_daylight_saving_time_changes() -> None:
    # 02:30 does not exist on the day clocks go forward: that day's fire is at 03:00.
    cron = Cron("30 2 * * *", "Europe/Paris")
    assert cron.next_after(at("2026-03-29T00:00:00+01:00")) == at("2026-03-29T03:00:00+02:00")
    # 02:30 happens twice on the day clocks go back: both fire.
    first = cron.next_after(at("2026-10-25T00:00:00+02:00"))
    assert first == at("2026-10-25T02:30:00+02:00")
    assert cron.next_after(first) == at("2026-10-25T02:30:00+01:00")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expression", "timezone", "message"),
    [
        ("* * * *", "UTC", "has 4 fields"),
        ("*/0 * * * *", "UTC", "not a valid cron expression"),
        ("H * * * *", "UTC", "not a valid cron expression"),
        ("0 0 30 2 *", "UTC", "never fires"),
        ("@reboot", "UTC", "has 1 field, not a cron expression"),
        ("* * * * *", "Nowhere/Town", "unknown time zone"),
        ("* * * * *", "", "IANA name"),
        ("* * * * *", "../../etc/passwd", "unknown time zone"),
    ],
)
def test_bad_expressions_and_zones_are_usage_errors(
    expression: str, timezone: str, message: str
) -> None:
    with pytest.raises(tr.UsageError, match=message):
        Cron(expression, timezone)


def test_due_fires_in_each_catch_up_mode() -> None:
    cron = Cron("* * * * *")
    on_time = T0 + 60.3
    for mode in CatchUp:
        assert schedules.due_fires(cron, mode, T0 + 60, on_time, 100) == ([T0 + 60], T0 + 120)
    hour_late = T0 + 3630
    assert schedules.due_fires(cron, CatchUp.LATEST, T0 + 60, hour_late, 100) == (
        [T0 + 3600],
        T0 + 3660,
    )
    assert schedules.due_fires(cron, CatchUp.NONE, T0 + 60, hour_late, 100) == ([], T0 + 3660)
    fires, following = schedules.due_fires(cron, CatchUp.ALL, T0 + 60, hour_late, 100)
    assert fires == [T0 + 60 * m for m in range(1, 61)] and following == T0 + 3660
    # At most ``limit`` at a time; the next one due is where the next tick carries on.
    assert schedules.due_fires(cron, CatchUp.ALL, T0 + 60, hour_late, 3) == (
        [T0 + 60, T0 + 120, T0 + 180],
        T0 + 240,
    )


def test_fire_run_ids_follow_from_schedule_and_time_and_sort_by_time() -> None:
    first = schedules.run_id_for("nightly", T0)
    assert first == schedules.run_id_for("nightly", T0)
    assert first != schedules.run_id_for("hourly", T0)
    assert first < schedules.run_id_for("nightly", T0 + 1) < schedules.run_id_for("a", T0 + 2)
    assert len(first) == 26
