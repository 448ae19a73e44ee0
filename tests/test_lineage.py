"""assets lineage: text trees, JSON, DOT, and real SVG/PNG files drawn by graphviz's dot."""

from __future__ import annotations

import html
import json
import os
import re
import xml.etree.ElementTree as ET

from conftest import RAW_SPEND_DEFS

from assets_core.lineage import (
    KIND_SHAPES,
    NO_COLUMNS_NOTE,
    STATUS_COLOURS,
    Node,
    node_id,
)

DEFS = """
from assets_core import asset, source

orders = source("raw/orders", path="landing/*.csv")


@asset(key_prefix="staging")
def clean(orders):
    return len(orders)


@asset(key_prefix="bi")
def daily(clean):
    return clean + 1


@asset(key_prefix="bi")
def kpis(daily):
    return daily * 2


@asset(key_prefix="bi")
def broken(daily):
    raise ValueError("no")


@asset(key_prefix="ml", deps=["bi/kpis"])
def report():
    return 1
"""
SVG_NS = {"svg": "http://www.w3.org/2000/svg"}


def _project(make_project, cli_json, write_file):
    root = make_project({"defs.py": DEFS, "landing/a.csv": "id\n1\n"})
    cli_json(root, "materialize", "--json", expect=1)  # bi/broken fails
    write_file(root / "defs.py", DEFS.replace("return daily * 2", "return daily * 3"))
    return root


def test_text_tree_shows_both_directions_with_status_and_depth_limits(
    make_project, cli_json, write_file, run_cli
):
    root = _project(make_project, cli_json, write_file)
    out = run_cli(root, "lineage", "bi/daily").stdout
    assert out.splitlines()[0].startswith("bi/daily  [fresh, ")
    assert "upstream:\n  └── staging/clean  [fresh, " in out
    assert "      └── raw/orders  [changed " in out and "(source)" in out
    assert "bi/kpis  [stale, " in out and "bi/broken  [failed, nothing published]" in out
    assert "ml/report  [fresh, " in out  # through the order-only dependency
    one = run_cli(root, "lineage", "daily", "--upstream", "1", "--downstream", "0").stdout
    assert "staging/clean" in one and "raw/orders" not in one
    assert "staging/clean  [fresh, " in one and "(+1 more upstream)" in one
    assert "downstream: (not shown: --downstream 0)" in one


def test_json_lists_nodes_and_edges_of_a_selection(make_project, cli_json, write_file):
    root = _project(make_project, cli_json, write_file)
    got = cli_json(root, "lineage", "group:bi", "--json")
    assert got["focus"] is None
    assert {n["key"]: n["status"] for n in got["nodes"]} == {
        "bi/daily": "fresh",
        "bi/kpis": "stale",
        "bi/broken": "failed",
    }
    assert {(e["from"], e["to"]) for e in got["edges"]} == {
        ("bi/daily", "bi/kpis"),
        ("bi/daily", "bi/broken"),
    }
    whole = cli_json(root, "lineage", "--format", "json")
    assert {"from": "bi/kpis", "to": "ml/report", "kind": "order"} in whole["edges"]
    assert len(whole["nodes"]) == 6


def test_dot_is_written_without_the_dot_program(make_project, cli_json, write_file, run_cli):
    root = _project(make_project, cli_json, write_file)
    out = root / "graph.dot"
    proc = run_cli(root, "lineage", "-o", str(out), env={"PATH": "/nonexistent"})
    assert proc.returncode == 0, proc.stderr
    dot = out.read_text()
    assert dot.startswith("digraph lineage {")
    assert "subgraph cluster_bi {" in dot and "subgraph cluster_raw {" in dot
    assert 'id="bi--kpis"' in dot and f'fillcolor="{STATUS_COLOURS["stale"][0]}"' in dot
    assert "shape=cylinder" in dot


def test_svg_and_png_need_dot_and_say_how_to_install_it(make_project, run_cli):
    root = make_project({"defs.py": DEFS})
    proc = run_cli(root, "lineage", "-o", str(root / "g.svg"), env={"PATH": "/nonexistent"})
    assert proc.returncode == 2
    assert "needs graphviz's 'dot' program" in proc.stderr
    assert "apt-get install graphviz" in proc.stderr
    assert not (root / "g.svg").exists()
    png = run_cli(root, "lineage", "--format", "png", "-o", "g.png", env={"PATH": "/nonexistent"})
    assert png.returncode == 2 and "--format dot" in png.stderr
    assert "Traceback" not in proc.stderr + png.stderr


def _assert_drawn_as(nodes, expected):
    """Each node of ``expected`` is filled with its status's colour."""
    for nid, status in expected.items():
        assert nodes[nid] == STATUS_COLOURS[status][0], (nid, status)


def _svg_nodes(path):
    tree = ET.parse(path)
    out = {}
    for g in tree.getroot().iter("{http://www.w3.org/2000/svg}g"):
        if g.get("class") == "node":
            shape = next(  # the first filled outline, inside the tooltip's <a>
                e
                for e in g.iter()
                if e.tag.rsplit("}", 1)[-1] in ("polygon", "path", "ellipse")
                and e.get("fill") not in (None, "none")
            )
            out[g.get("id")] = shape.get("fill")
    return out


def test_svg_has_a_node_per_asset_coloured_by_status(make_project, cli_json, write_file, run_cli):
    root = _project(make_project, cli_json, write_file)
    svg = root / "out" / "graph.svg"
    proc = run_cli(root, "lineage", "-o", str(svg))
    assert proc.returncode == 0, proc.stderr
    nodes = _svg_nodes(svg)
    expected = {
        "raw--orders": "source",
        "staging--clean": "fresh",
        "bi--daily": "fresh",
        "bi--kpis": "stale",
        "bi--broken": "failed",
        "ml--report": "fresh",
    }
    _assert_drawn_as(nodes, expected)
    # the legend shows each status drawn
    assert {k for k in nodes if k.startswith("legend--")} == {
        "legend--fresh",
        "legend--stale",
        "legend--failed",
        "legend--source",
    }
    text = html.unescape(svg.read_text())  # dot writes "-" as &#45;
    assert re.search(r'<g id="group--bi" class="cluster">', text)
    assert ">bi/kpis</text>" in text


def test_svg_of_a_focus_with_depth_limits_has_only_its_neighbourhood(
    make_project, cli_json, write_file, run_cli
):
    root = _project(make_project, cli_json, write_file)
    svg = root / "roas.svg"
    args = ("lineage", "bi/daily", "--upstream", "1", "--downstream", "1", "-o", str(svg))
    assert run_cli(root, *args).returncode == 0
    assert set(k for k in _svg_nodes(svg) if not k.startswith("legend--")) == {
        "staging--clean",
        "bi--daily",
        "bi--kpis",
        "bi--broken",
    }


def test_png_is_a_real_png_file(make_project, cli_json, write_file, run_cli):
    root = _project(make_project, cli_json, write_file)
    png = root / "graph.png"
    proc = run_cli(root, "lineage", "--format", "png", "-o", str(png))
    assert proc.returncode == 0, proc.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 200 and height > 100


def test_overdue_assets_are_drawn_as_overdue(make_project, run_cli, cli_json):
    root = make_project(
        {
            "defs.py": """
            from assets_core import Freshness, asset

            @asset(freshness=Freshness(max_lag="1h"))
            def hourly():
                return 1
            """
        }
    )
    cli_json(root, "materialize", "--json")
    later = {"ASSETS_NOW": "4000000000"}
    got = cli_json(root, "lineage", "--json", env=later)
    assert [(n["key"], n["status"]) for n in got["nodes"]] == [("hourly", "overdue")]
    svg = root / "g.svg"
    assert run_cli(root, "lineage", "-o", str(svg), env=later).returncode == 0
    assert _svg_nodes(svg)["hourly"] == STATUS_COLOURS["overdue"][0]


def test_columns_view_without_recorded_columns_says_so(make_project, run_cli, cli_json):
    root = make_project({"defs.py": DEFS})
    assert NO_COLUMNS_NOTE in run_cli(root, "lineage", "bi/daily", "--columns").stdout
    got = cli_json(root, "lineage", "bi/daily", "--columns", "--json")
    assert got["columns"] == [] and got["note"] == NO_COLUMNS_NOTE
    svg = root / "cols.svg"
    assert run_cli(root, "lineage", "--columns", "-o", str(svg)).returncode == 0
    assert NO_COLUMNS_NOTE in html.unescape(svg.read_text())


def test_column_edges_render_as_ports_between_asset_tables():
    from assets_core.lineage import ColumnEdge, LineageView, render_image, to_dot

    view = LineageView(
        nodes=(
            Node("a", "sql", "g", "fresh", 0.0),
            Node("b", "python", "g", "stale", 0.0),
        ),
        edges=(),
        focus=None,
        now=10.0,
        column_edges=(
            ColumnEdge("a", "spend usd", "b", "roas"),
            ColumnEdge("a", "revenue", "b", "roas"),
        ),
    )
    dot = to_dot(view)
    assert "a:c0 -> b:c0" in dot and "a:c1 -> b:c0" in dot
    svg = render_image(dot, "svg").decode()
    assert ">spend usd</text>" in svg and ">roas</text>" in svg
    assert svg.count('class="edge"') == 2


def test_every_kind_and_status_has_a_drawing_style():
    assert set(KIND_SHAPES) == {"python", "sql", "source", "check"}
    assert {"fresh", "stale", "failed", "quarantined", "overdue", "never"} <= set(STATUS_COLOURS)
    assert node_id("bi/roas_daily") == "bi--roas_daily"
    assert Node("k", "python", "g", "never", None).age(5.0) == "never"
    assert Node("k", "python", "g", "fresh", 0.0).age(11520.0) == "3h12m ago"


def test_lineage_json_is_stable_for_other_tools(make_project, cli_json):
    root = make_project({"defs.py": DEFS})
    got = cli_json(root, "lineage", "raw/orders", "--downstream", "1", "--json")
    assert got["focus"] == "raw/orders"
    node = next(n for n in got["nodes"] if n["key"] == "staging/clean")
    assert set(node) == {"id", "key", "kind", "group", "status", "updated_at", "age"}
    assert node["status"] == "never" and node["age"] == "never"
    assert json.loads(json.dumps(got)) == got
    assert os.path.sep not in node["id"]


def test_sql_assets_are_drawn_as_components_next_to_python_ones(make_project, cli_json, run_cli):
    root = make_project(
        {
            "defs.py": """
            import pandas as pd
            from assets_core import asset

            @asset(key_prefix="raw")
            def spend():
                return pd.DataFrame({"day": [1, 2], "spend": [3.0, 4.0]})
            """,
            "models/bi/total.sql": "SELECT SUM(spend) AS spend FROM raw.spend\n",
        },
        extra_toml='sql_paths = ["models"]\n',
    )
    cli_json(root, "materialize", "--json")
    got = cli_json(root, "lineage", "bi/total", "--json")
    assert [(n["key"], n["kind"], n["status"]) for n in got["nodes"]] == [
        ("raw/spend", "python", "fresh"),
        ("bi/total", "sql", "fresh"),
    ]
    dot = run_cli(root, "lineage", "--format", "dot").stdout
    assert re.search(r'"bi--total" \[[^\]]*shape=component', dot)
    assert cli_json(root, "status", "--json")["assets"][1]["status"] == "fresh"


def test_checks_are_nodes_with_their_latest_result(make_project, cli_json):
    root = make_project(
        {
            "defs.py": """
            from assets_core import asset, check

            @asset
            def amount():
                return 5

            @check(amount)
            def positive(amount):
                return amount > 0

            @check(amount, blocking=False)
            def small(amount):
                return amount < 3
            """
        }
    )
    got = cli_json(root, "lineage", "amount", "--json")
    assert {n["key"]: n["status"] for n in got["nodes"] if n["kind"] == "check"} == {
        "amount#positive": "never",
        "amount#small": "never",
    }
    cli_json(root, "materialize", "--json")
    got = cli_json(root, "lineage", "amount", "--json")
    assert {n["key"]: n["status"] for n in got["nodes"] if n["kind"] == "check"} == {
        "amount#positive": "passed",
        "amount#small": "warned",
    }
    assert {"from": "amount", "to": "amount#small", "kind": "order"} in got["edges"]
    plain = cli_json(root, "lineage", "amount", "--no-checks", "--json")
    assert [n["key"] for n in plain["nodes"]] == ["amount"]


def test_a_depth_limit_on_one_side_leaves_the_other_side_whole(
    make_project, cli_json, write_file, run_cli
):
    root = _project(make_project, cli_json, write_file)
    up0 = cli_json(root, "lineage", "bi/daily", "--upstream", "0", "--no-checks", "--json")
    assert {n["key"] for n in up0["nodes"]} == {"bi/daily", "bi/kpis", "bi/broken", "ml/report"}
    text = run_cli(root, "lineage", "bi/daily", "--upstream", "0", "--no-checks").stdout
    assert "upstream: (not shown: --upstream 0)" in text
    assert "ml/report" in text  # two levels down: the downstream side has no limit
    down1 = run_cli(root, "lineage", "staging/clean", "--downstream", "1", "--no-checks").stdout
    assert "raw/orders" in down1  # upstream without a limit
    assert "bi/daily  [fresh, " in down1 and "(+2 more downstream)" in down1
    assert "bi/kpis" not in down1
    source = run_cli(root, "lineage", "raw/orders", "--downstream", "1", "--no-checks").stdout
    assert source.splitlines()[:2] == [source.splitlines()[0], "upstream: (none)"]
    assert "staging/clean" in source and "bi/daily" not in source


QUARANTINE_DEFS = """
from assets_core import asset, check


@asset(group="core")
def amount():
    return -5


@check(amount, blocking=True)
def positive(amount):
    return amount > 0


@asset(group="core")
def doubled(amount):
    return amount * 2


@asset(group="other")
def fine():
    return 1


@check(fine, blocking=False)
def small(fine):
    return fine > 5
"""


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _quarantine_project(make_project, cli_json):
    root = make_project({"defs.py": QUARANTINE_DEFS})
    cli_json(root, "materialize", "--json", expect=1)  # amount is quarantined, doubled blocked
    return root


def test_svg_draws_quarantined_never_and_check_nodes_with_their_shapes_and_labels(
    make_project, cli_json, run_cli
):
    root = _quarantine_project(make_project, cli_json)
    svg = root / "graph.svg"
    proc = run_cli(root, "lineage", "--format", "svg", "-o", str(svg))
    assert proc.returncode == 0, proc.stderr
    nodes = _svg_nodes(svg)
    expected = {
        "amount": "quarantined",
        "doubled": "never",
        "fine": "fresh",
        "amount#positive": "failed",
        "fine#small": "warned",
    }
    _assert_drawn_as(nodes, expected)
    tree = ET.parse(svg)
    by_id = {g.get("id"): g for g in tree.getroot().iter("{http://www.w3.org/2000/svg}g")}

    def texts(nid):
        return [t.text for t in by_id[nid].iter("{http://www.w3.org/2000/svg}text")]

    def outline_points(nid):
        poly = next(by_id[nid].iter("{http://www.w3.org/2000/svg}polygon"))
        return {p for p in poly.get("points").split()}

    # checks are hexagons (six corners), the label is the key and its age or result
    assert len(outline_points("amount#positive")) == 6
    assert texts("amount#positive") == ["amount#positive", "failed"]
    assert texts("fine")[0] == "fine" and texts("fine")[1].endswith(" ago")
    assert texts("doubled") == ["doubled", "never"]
    assert {g.get("id") for g in by_id.values() if g.get("class") == "cluster"} >= {
        "group--core",
        "group--other",
    }
    assert "legend--quarantined" in nodes and "legend--never" in nodes


def test_png_is_painted_with_the_status_colours_of_its_nodes(make_project, cli_json, run_cli):
    from PIL import Image

    root = _quarantine_project(make_project, cli_json)
    png = root / "graph.png"
    proc = run_cli(root, "lineage", "--no-checks", "-o", str(png))
    assert proc.returncode == 0, proc.stderr
    with Image.open(png) as img:
        assert img.format == "PNG"
        colours = {rgba[:3] for _, rgba in img.convert("RGBA").getcolors(maxcolors=1 << 20)}
    for status in ("quarantined", "never", "fresh"):
        assert _rgb(STATUS_COLOURS[status][0]) in colours, status
    for status in ("stale", "failed", "overdue"):  # nothing is drawn in these
        assert _rgb(STATUS_COLOURS[status][0]) not in colours, status


def test_column_lineage_of_sql_assets_is_drawn_as_tables_of_columns(
    make_project, cli_json, run_cli
):
    root = make_project(
        {
            "defs.py": RAW_SPEND_DEFS,
            "models/bi/daily.sql": (
                "SELECT day, SUM(spend) AS spend, SUM(spend) / SUM(clicks) AS cpc\n"
                "FROM raw.spend GROUP BY day\n"
            ),
        },
        extra_toml='sql_paths = ["models"]\n',
    )
    cli_json(root, "materialize", "--json")
    got = cli_json(root, "lineage", "bi/daily", "--columns", "--json")
    assert {(c["from_column"], c["to_column"]) for c in got["columns"]} == {
        ("day", "day"),
        ("spend", "spend"),
        ("spend", "cpc"),
        ("clicks", "cpc"),
    }
    svg = root / "cols.svg"
    proc = run_cli(root, "lineage", "bi/daily", "--columns", "--format", "svg", "-o", str(svg))
    assert proc.returncode == 0, proc.stderr
    text = html.unescape(svg.read_text())
    assert '<g id="bi--daily" class="node">' in text and '<g id="raw--spend" class="node">' in text
    for col in ("day", "spend", "clicks", "cpc"):
        assert f">{col}</text>" in text
    assert text.count('class="edge"') == 4
    assert STATUS_COLOURS["fresh"][0] in text  # each table's header has its status colour
