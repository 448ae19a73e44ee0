"""OpenLineage: live events to an HTTP receiver and a file, validated against the spec's schema;
and the export of the catalog's history."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import pytest
from conftest import RAW_SPEND_DEFS

SCHEMA = json.loads(
    (Path(__file__).parent / "fixtures" / "openlineage" / "run_event.schema.json").read_text()
)
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    return not isinstance(value, str) or (
        "T" in value and datetime.fromisoformat(value).tzinfo is not None
    )


@FORMATS.checks("uri", raises=ValueError)
def _uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlparse(value).scheme)


def _facets(event: dict) -> list[dict]:
    holders = [event["run"], event["job"], *event.get("inputs", []), *event.get("outputs", [])]
    return [f for h in holders for f in (h.get("facets") or {}).values()]


def validate(event: dict) -> None:
    """``event`` against the schema fixture, and only with schema versions it describes."""
    jsonschema.validate(event, SCHEMA, format_checker=FORMATS)
    named = [event["schemaURL"], *(f["_schemaURL"] for f in _facets(event))]
    assert set(named) <= set(SCHEMA["x-describes"]), set(named) - set(SCHEMA["x-describes"])


DEFS = """
import pandas as pd
from assets_core import asset, source
from assets_core.checks import not_null

orders = source("raw/orders", path="landing/*.csv")


@asset(checks=[not_null("amount")])
def revenue(orders):
    return pd.concat(pd.read_csv(p) for p in orders)


@asset
def total(revenue):
    return float(revenue["amount"].sum())


@asset
def broken(revenue):
    raise RuntimeError("the feed is late")
"""


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]]

    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, json.loads(body)))  # type: ignore[attr-defined]
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _by_job(events: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in events:
        out.setdefault(e["job"]["name"], []).append(e["eventType"])
    return out


def test_materialize_posts_valid_run_events_to_an_http_receiver(make_project, cli_json, receiver):
    port = receiver.server_address[1]
    root = make_project(
        {"defs.py": DEFS, "landing/a.csv": "id,amount\n1,2.5\n2,4\n"},
        extra_toml=f'openlineage = "http://127.0.0.1:{port}"\n',
    )
    cli_json(root, "materialize", "--json", expect=1)
    paths = {p for p, _ in receiver.received}
    assert paths == {"/api/v1/lineage"}
    events = [e for _, e in receiver.received]
    for e in events:
        validate(e)
    assert _by_job(events) == {
        "revenue": ["START", "COMPLETE"],
        "total": ["START", "COMPLETE"],
        "broken": ["START", "FAIL"],
    }
    done = {e["job"]["name"]: e for e in events if e["eventType"] != "START"}
    out = done["revenue"]["outputs"][0]
    assert out["namespace"] == "file" and out["name"].endswith(".assets/store/revenue")
    assert [f["name"] for f in out["facets"]["schema"]["fields"]] == ["id", "amount"]
    assertions = out["facets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a["success"]) for a in assertions] == [("not_null(amount)", True)]
    (source_in,) = done["revenue"]["inputs"]
    assert source_in["name"] == str(root / "landing/*.csv")
    assert (
        done["total"]["inputs"][0]["facets"]["version"]["datasetVersion"]
        == (out["facets"]["version"]["datasetVersion"])
    )
    failed = done["broken"]["run"]["facets"]["errorMessage"]
    assert "the feed is late" in failed["message"] and "RuntimeError" in failed["stackTrace"]
    # one parent run (the assets run), one OpenLineage run per materialization
    parents = {e["run"]["facets"]["parent"]["run"]["runId"] for e in events}
    assert len(parents) == 1
    assert len({e["run"]["runId"] for e in events}) == 3


def test_file_transport_appends_json_lines_and_export_repeats_them(make_project, cli_json, run_cli):
    root = make_project(
        {"defs.py": DEFS.split("@asset\ndef broken")[0], "landing/a.csv": "id,amount\n1,2\n"},
        extra_toml='openlineage = "file://.assets/lineage/events.jsonl"\n',
    )
    cli_json(root, "materialize", "--json")
    lines = (root / ".assets/lineage/events.jsonl").read_text().splitlines()
    live = [json.loads(x) for x in lines]
    assert [e["eventType"] for e in live] == ["START", "COMPLETE", "START", "COMPLETE"]
    export = run_cli(root, "openlineage")
    assert export.returncode == 0, export.stderr
    exported = [json.loads(x) for x in export.stdout.splitlines()]
    for e in exported:
        validate(e)
    key = lambda e: (e["run"]["runId"], e["eventType"])  # noqa: E731
    assert sorted(map(key, exported)) == sorted(map(key, live))
    later = run_cli(root, "openlineage", "--since", "2999-01-01")
    assert later.returncode == 0 and later.stdout == ""
    bad = run_cli(root, "openlineage", "--since", "yesterday")
    assert bad.returncode == 2 and "is not a date" in bad.stderr


def test_emission_is_off_by_default_and_a_down_receiver_does_not_fail_the_run(
    make_project, cli_json, run_cli
):
    root = make_project(
        {"defs.py": DEFS.split("@asset\ndef broken")[0], "landing/a.csv": "id,amount\n1,2\n"}
    )
    cli_json(root, "materialize", "--json")
    assert not list(root.rglob("*.jsonl"))
    down = make_project(
        {"defs.py": DEFS.split("@asset\ndef broken")[0], "landing/a.csv": "id,amount\n1,2\n"},
        extra_toml='openlineage = "http://127.0.0.1:9"\n',
        name="down",
    )
    proc = run_cli(down, "materialize")
    assert proc.returncode == 0
    assert "warning: OpenLineage events to http://127.0.0.1:9 failed" in proc.stderr


def test_unknown_transport_is_a_clear_error(make_project, run_cli):
    root = make_project(
        {"defs.py": DEFS.split("@asset\ndef broken")[0], "landing/a.csv": "id,amount\n1,2\n"},
        extra_toml='openlineage = "kafka://broker:9092"\n',
    )
    proc = run_cli(root, "materialize")
    assert proc.returncode == 2
    assert "unknown transport 'kafka'" in proc.stderr and "file:///" in proc.stderr


def test_tables_in_databases_are_named_by_their_engine_without_credentials():
    from assets_core.openlineage import _url_namespace

    assert _url_namespace("postgresql+psycopg://u:secret@db:5432/x", "wh") == "postgresql://db:5432"
    assert _url_namespace("duckdb:////data/w.duckdb", "lake") == "duckdb:////data/w.duckdb"
    assert _url_namespace(None, "duckdb") == "duckdb://assets"


def test_export_shows_the_checks_of_each_materialization_once(make_project, cli_json, run_cli):
    root = make_project(
        {"defs.py": DEFS.split("@asset\ndef broken")[0], "landing/a.csv": "id,amount\n1,2\n"}
    )
    cli_json(root, "materialize", "--json")
    for _ in range(2):  # later audits of the published version are not that run's checks
        assert run_cli(root, "check").returncode == 0
    exported = [json.loads(x) for x in run_cli(root, "openlineage").stdout.splitlines()]
    (done,) = [
        e for e in exported if e["eventType"] == "COMPLETE" and e["job"]["name"].endswith("revenue")
    ]
    (out,) = done["outputs"]
    assertions = out["facets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a["success"]) for a in assertions] == [("not_null(amount)", True)]


def test_column_lineage_facet_is_sent_live_and_exported_for_sql_assets(
    make_project, cli_json, run_cli, receiver
):
    port = receiver.server_address[1]
    root = make_project(
        {
            "defs.py": RAW_SPEND_DEFS,
            "models/bi/daily.sql": (
                "SELECT day, SUM(spend) / SUM(clicks) AS cpc FROM raw.spend GROUP BY day\n"
            ),
        },
        extra_toml=f'sql_paths = ["models"]\nopenlineage = "http://127.0.0.1:{port}"\n',
    )
    cli_json(root, "materialize", "--json")
    live = [e for _, e in receiver.received]
    for e in live:
        validate(e)
    (done,) = [e for e in live if e["eventType"] == "COMPLETE" and e["job"]["name"] == "bi/daily"]
    fields = done["outputs"][0]["facets"]["columnLineage"]["fields"]
    spend_ns, spend_name = "file", str(root / ".assets/store/raw/spend")
    assert {
        c: sorted((f["namespace"], f["name"], f["field"]) for f in v["inputFields"])
        for c, v in fields.items()
    } == {
        "day": [(spend_ns, spend_name, "day")],
        "cpc": [(spend_ns, spend_name, "clicks"), (spend_ns, spend_name, "spend")],
    }
    assert all(
        "columnLineage" not in o["facets"]
        for e in live
        if e["eventType"] == "START"
        for o in e["outputs"]
    )
    exported = [json.loads(x) for x in run_cli(root, "openlineage").stdout.splitlines()]
    (again,) = [
        e for e in exported if e["eventType"] == "COMPLETE" and e["job"]["name"] == "bi/daily"
    ]
    assert (
        again["outputs"][0]["facets"]["columnLineage"]
        == done["outputs"][0]["facets"]["columnLineage"]
    )
