"""Freshness policies: pure evaluation with a controllable clock, status --freshness, events."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from assets_core import Freshness, asset, source
from assets_core.errors import DefinitionError
from assets_core.freshness import ERROR, FRESH, WARN, FreshnessError, current_time, evaluate

HOUR = 3600.0
BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> float:
    return datetime(*args, tzinfo=BERLIN).timestamp()


def test_max_lag_alone_warns_once_the_last_update_is_older():
    policy = Freshness(max_lag="26h")
    assert evaluate(policy, 0.0, 25 * HOUR).state == FRESH
    late = evaluate(policy, 0.0, 27 * HOUR)
    assert (late.state, late.overdue_s, late.summary) == (WARN, HOUR, "overdue by 1h")


def test_warn_after_and_error_after_grade_the_lateness():
    policy = Freshness(max_lag="1h", warn_after="30m", error_after="2h")
    assert evaluate(policy, 0.0, HOUR + 20 * 60).state == FRESH  # 20m late: within grace
    assert evaluate(policy, 0.0, 2 * HOUR).state == WARN  # 1h late
    assert evaluate(policy, 0.0, 3 * HOUR + 1).state == ERROR  # just over 2h late


def test_dbt_style_levels_alone_bound_the_age():
    policy = Freshness(warn_after="12h", error_after="24h")
    assert evaluate(policy, 0.0, 11 * HOUR).state == FRESH
    assert evaluate(policy, 0.0, 13 * HOUR).state == WARN
    assert evaluate(policy, 0.0, 25 * HOUR).state == ERROR


def test_cron_deadline_counts_overdue_time_from_the_tick_in_its_time_zone():
    policy = Freshness(
        cron="0 6 * * 1-5", tz="Europe/Berlin", max_lag="1h", warn_after="30m", error_after="2h"
    )
    sunday_noon = berlin(2026, 1, 4, 12, 0)
    monday_0912 = berlin(2026, 1, 5, 9, 12)
    r = evaluate(policy, sunday_noon, monday_0912)
    assert (r.state, r.summary) == (ERROR, "overdue by 3h12m")
    assert r.deadline == berlin(2026, 1, 5, 6, 0)
    # updated at 05:30, after tick - max_lag (05:00): fresh all day
    assert evaluate(policy, berlin(2026, 1, 5, 5, 30), monday_0912).state == FRESH
    # before Monday's tick the latest deadline is Friday's, which Sunday's update meets
    assert evaluate(policy, sunday_noon, berlin(2026, 1, 5, 5, 59)).state == FRESH
    assert evaluate(policy, sunday_noon, berlin(2026, 1, 5, 6, 45)).state == WARN


def test_cron_without_max_lag_needs_an_update_since_the_previous_tick():
    policy = Freshness(cron="0 7 * * *", tz="UTC")
    day = 86400.0
    seven = 7 * HOUR
    assert evaluate(policy, seven + 60, day + seven + 60).state == FRESH
    assert evaluate(policy, seven - 60, day + seven + 60).state == WARN


def test_never_updated_is_in_error_only_when_the_policy_has_an_error_level():
    assert evaluate(Freshness(max_lag="1h"), None, 0.0).state == WARN
    never = evaluate(Freshness(max_lag="1h", error_after="1h"), None, 0.0)
    assert (never.state, never.summary) == (ERROR, "never updated")


def test_policies_take_timedelta_and_seconds_and_describe_themselves():
    policy = Freshness(max_lag=timedelta(hours=2), error_after=5400)
    assert (policy.max_lag, policy.error_after) == (7200.0, 5400.0)
    assert policy.describe() == "max_lag 2h, error after 1h30m"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({}, "needs max_lag="),
        ({"max_lag": "soon"}, "cannot read the duration"),
        ({"cron": "every day"}, "not a cron expression"),
        ({"max_lag": "1h", "tz": "Mars/Olympus"}, "not a known time zone"),
        ({"warn_after": "2h", "error_after": "1h"}, "warn_after is longer"),
    ],
)
def test_invalid_policies_are_definition_errors(kwargs, needle):
    with pytest.raises(DefinitionError, match=needle):
        Freshness(**kwargs)


def test_unreadable_cron_fields_fail_at_evaluation_with_a_freshness_error():
    with pytest.raises(FreshnessError, match="cannot be read"):
        evaluate(Freshness(cron="99 6 * * *"), 0.0, 10 * HOUR)


def test_freshness_is_recorded_on_assets_and_sources():
    policy = Freshness(max_lag="2h")

    @asset(freshness=policy)
    def daily(): ...

    raw = source("raw/x", path="x/*.csv", freshness=policy)
    assert daily.__asset_def__.freshness is policy
    assert raw.freshness is policy
    with pytest.raises(DefinitionError, match="must be a Freshness policy"):
        asset(key="bad", freshness="26h")(lambda: 1)


def test_assets_now_pins_the_clock(monkeypatch):
    monkeypatch.setenv("ASSETS_NOW", "2026-01-05T09:12:00+01:00")
    assert current_time() == berlin(2026, 1, 5, 9, 12)
    monkeypatch.setenv("ASSETS_NOW", "1000.5")
    assert current_time() == 1000.5


DEFS = """
from assets_core import Freshness, asset, source

feed = source("raw/feed", path="feed/*.csv", freshness=Freshness(max_lag="2h"))


@asset(freshness=Freshness(max_lag="1h", error_after="3h"))
def daily(feed):
    return len(feed)


@asset
def untracked(daily):
    return daily
"""


def _at(hours: float) -> dict[str, str]:
    return {"ASSETS_NOW": str(T0 + hours * HOUR)}


T0 = 4_000_000_000.0  # far ahead of the real clock: everything was updated "long ago"


def test_status_freshness_transitions_are_recorded_once_each(
    make_project, cli_json, catalog_rows, run_cli
):
    root = make_project({"defs.py": DEFS, "feed/a.csv": "x\n1\n"})
    cli_json(root, "observe", "--json")
    cli_json(root, "materialize", "--json")
    now = current_time()
    fresh = cli_json(root, "status", "--freshness", "--json", env={"ASSETS_NOW": str(now)})
    assert [(a["key"], a["state"]) for a in fresh["assets"]] == [
        ("raw/feed", FRESH),
        ("daily", FRESH),
    ]
    assert fresh["error"] == []
    assert catalog_rows(root, "SELECT count(*) FROM events") == [(0,)]

    late = {"ASSETS_NOW": str(now + 2.5 * HOUR)}  # daily 1.5h late (warn), feed 0.5h late
    got = cli_json(root, "status", "--freshness", "--json", env=late)
    assert {a["key"]: a["state"] for a in got["assets"]} == {"raw/feed": WARN, "daily": WARN}
    cli_json(root, "status", "--freshness", "--json", env=late)  # same states: no new events

    very_late = {"ASSETS_NOW": str(now + 5 * HOUR)}  # daily 4h late: error
    proc = run_cli(root, "status", "--freshness", env=very_late)
    assert proc.returncode == 1
    assert "overdue by 4h" in proc.stdout and "error" in proc.stdout

    events = catalog_rows(
        root,
        "SELECT key, json_extract(payload, '$.previous'), json_extract(payload, '$.state') "
        "FROM events WHERE kind = 'freshness' ORDER BY id",
    )
    assert events == [
        ("raw/feed", FRESH, WARN),
        ("daily", FRESH, WARN),
        ("daily", WARN, ERROR),
    ]
    # a new materialization makes daily fresh again: one more transition
    cli_json(root, "materialize", "--force", "daily", "--json")
    cli_json(root, "status", "--json", env={"ASSETS_NOW": str(current_time())})
    assert catalog_rows(
        root,
        "SELECT key, json_extract(payload, '$.state') FROM events ORDER BY id DESC LIMIT 2",
    ) == [("daily", FRESH), ("raw/feed", FRESH)]


def test_overdue_asset_shows_as_overdue_in_status(make_project, cli_json):
    root = make_project({"defs.py": DEFS, "feed/a.csv": "x\n1\n"})
    cli_json(root, "materialize", "--json")
    later = {"ASSETS_NOW": str(current_time() + 10 * HOUR)}
    rows = {r["key"]: r for r in cli_json(root, "status", "--json", env=later)["assets"]}
    assert rows["daily"]["status"] == "overdue"
    assert rows["daily"]["freshness"]["state"] == ERROR
    assert rows["untracked"]["status"] == "fresh" and rows["untracked"]["freshness"] is None


def test_a_source_is_as_fresh_as_the_last_observation_that_saw_it_change(
    make_project, cli_json, catalog_rows
):
    from assets_core.catalog.catalog import Catalog
    from assets_core.catalog.observations import record_observations

    root = make_project(
        {
            "defs.py": """
            from assets_core import Freshness, source

            def version():
                return "v1"

            feed = source("raw/feed", observe=version, freshness=Freshness(max_lag="2h"))
            """
        }
    )
    cat = Catalog.open(f"sqlite:///{root / '.assets' / 'catalog.db'}")
    try:
        record_observations(cat.writer, [("raw/feed", "v1")], at=T0)
        # observed again 3h later, unchanged: the source's last update stays at T0
        record_observations(cat.writer, [("raw/feed", "v1")], at=T0 + 3 * HOUR)
        late = cli_json(root, "status", "--freshness", "--json", env=_at(3.25))["assets"][0]
        assert (late["state"], late["last_update"], late["overdue"]) == (WARN, T0, "1h15m")
        record_observations(cat.writer, [("raw/feed", "v2")], at=T0 + 3.5 * HOUR)
        again = cli_json(root, "status", "--freshness", "--json", env=_at(4))["assets"][0]
        assert (again["state"], again["last_update"]) == (FRESH, T0 + 3.5 * HOUR)
    finally:
        cat.close()
    assert catalog_rows(
        root,
        "SELECT json_extract(payload, '$.previous'), json_extract(payload, '$.state') "
        "FROM events WHERE kind = 'freshness' AND key = 'raw/feed' ORDER BY id",
    ) == [(FRESH, WARN), (WARN, FRESH)]


def test_freshness_of_a_never_materialized_asset_is_never_updated(make_project, cli_json, run_cli):
    root = make_project({"defs.py": DEFS, "feed/a.csv": "x\n1\n"})
    got = cli_json(root, "status", "--freshness", "--json", expect=1)
    rows = {a["key"]: a for a in got["assets"]}
    assert (rows["daily"]["state"], rows["daily"]["overdue"]) == (ERROR, "never updated")
    assert rows["daily"]["overdue_s"] is None and rows["daily"]["last_update"] is None
    assert (rows["raw/feed"]["state"], rows["raw/feed"]["overdue"]) == (WARN, "never updated")
    assert got["error"] == ["daily"]
    text = run_cli(root, "status", "--freshness")
    assert text.returncode == 1 and "never updated" in text.stdout
    assert "never" in {a["status"] for a in cli_json(root, "status", "--json")["assets"]}


def test_events_lists_the_freshness_transitions_of_a_key(make_project, cli_json, run_cli):
    root = make_project({"defs.py": DEFS, "feed/a.csv": "x\n1\n"})
    cli_json(root, "materialize", "--json")
    now = current_time()
    for hours in (2.5, 5):  # warn, then error
        cli_json(root, "status", "--json", env={"ASSETS_NOW": str(now + hours * HOUR)})
    got = cli_json(root, "events", "daily", "--kind", "freshness", "--json")["events"]
    assert [(e["key"], e["payload"]["previous"], e["payload"]["state"]) for e in got] == [
        ("daily", FRESH, WARN),
        ("daily", WARN, ERROR),
    ]
    assert got[1]["at"] == now + 5 * HOUR and got[1]["payload"]["overdue"] == "4h"
    text = run_cli(root, "events", "--kind", "freshness").stdout
    assert "warn -> error, overdue by 4h" in text and "raw/feed" in text
    later = cli_json(root, "events", "--since", "2999-01-01", "--json")
    assert later == {"events": []}
    bad = run_cli(root, "events", "dayly")
    assert bad.returncode == 2 and "daily" in bad.stderr
