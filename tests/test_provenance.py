"""assets show KEY --version V: what produced a version, as recorded when it was materialized."""

from __future__ import annotations

import ast

from assets_core.code_version import PYTHON_FORMAT, part_digest
from assets_core.provenance import shown_source

DEFS = '''
from assets_core import asset, source

feed = source("raw/feed", path="feed/*.csv")
RATE = 2  # a module constant is part of the code too


def scale(x):
    """Docstrings and comments are not part of the normalized source."""
    return x * RATE  # doubled


@asset
def base(feed):
    return len(feed)


@asset
def scaled(base):
    return scale(base)
'''


def _history(cli_json, root, key):
    return cli_json(root, "show", key, "--json")["history"]


def test_version_shows_code_with_sources_inputs_and_run(make_project, cli_json):
    root = make_project({"defs.py": DEFS, "feed/a.csv": "x\n1\n"})
    run = cli_json(root, "materialize", "--json")
    (latest,) = _history(cli_json, root, "scaled")
    info = cli_json(root, "show", "scaled", "--version", latest["data_version"][:10], "--json")
    assert info["materialization_id"] == latest["id"]
    assert info["data_version"] == latest["data_version"]
    assert info["run"]["id"] == run["run_id"] and info["run"]["command"] == "materialize"
    assert info["duration_s"] >= 0 and info["ended_at"] >= info["started_at"]
    assert info["fingerprint"] == PYTHON_FORMAT  # how the code version was made
    assert latest["code_parts"]["#format"] == ["", PYTHON_FORMAT]
    code = {c["name"]: c for c in info["code"]}
    assert set(code) == {"defs.scaled", "defs.scale", "defs.RATE"}
    assert code["defs.scaled"]["source"] == "def scaled(base):\n    return scale(base)"
    assert code["defs.scale"]["source"] == "def scale(x):\n    return x * RATE"
    assert code["defs.RATE"]["source"] == "RATE = 2"
    (inp,) = info["inputs"]
    base_dv = _history(cli_json, root, "base")[0]["data_version"]
    assert inp == {
        "key": "base",
        "data_version": base_dv,
        "kind": "asset",
        "show": f"assets show base --version {base_dv[:12]}",
    }
    # the command to follow works and names the source the input was built from
    up = cli_json(root, *inp["show"].split()[1:], "--json")
    (feed,) = up["inputs"]
    assert (feed["key"], feed["kind"]) == ("raw/feed", "source")
    # a source input links to what is recorded of that observed version
    seen = cli_json(root, *feed["show"].split()[1:], "--json")
    assert seen["version"] == feed["data_version"] and seen["observations"] >= 1
    assert [(b["key"], b["materialization_id"]) for b in seen["built_from_it"]] == [
        ("base", up["materialization_id"])
    ]


def test_old_versions_keep_the_code_they_were_built_with(
    make_project, cli_json, write_file, run_cli
):
    root = make_project({"defs.py": DEFS, "feed/a.csv": "x\n1\n"})
    cli_json(root, "materialize", "--json")
    write_file(root / "defs.py", DEFS.replace("RATE = 2", "RATE = 3"))
    cli_json(root, "materialize", "--json")
    new, old = _history(cli_json, root, "scaled")
    assert new["data_version"] != old["data_version"]
    by_id = cli_json(root, "show", "scaled", "--version", str(old["id"]), "--json")
    assert {c["name"]: c["source"] for c in by_id["code"]}["defs.RATE"] == "RATE = 2"
    newest = cli_json(root, "show", "scaled", "--version", new["data_version"][:8], "--json")
    assert {c["name"]: c["source"] for c in newest["code"]}["defs.RATE"] == "RATE = 3"
    text = run_cli(root, "show", "scaled", "--version", str(old["id"])).stdout
    assert "RATE = 2" in text and "assets show base --version" in text


def test_unknown_version_says_how_to_list_versions(make_project, cli_json, run_cli):
    root = make_project({"defs.py": DEFS, "feed/a.csv": "x\n1\n"})
    cli_json(root, "materialize", "--json")
    proc = run_cli(root, "show", "scaled", "--version", "ffffffffff")
    assert proc.returncode == 2
    assert "scaled has no version 'ffffffffff'" in proc.stderr
    assert "assets show scaled" in proc.stderr


def test_code_sources_are_written_once_per_part(make_project, cli_json, catalog_rows):
    root = make_project({"defs.py": DEFS, "feed/a.csv": "x\n1\n"})
    cli_json(root, "plan", "--json")  # the materialize below reads code versions from the cache
    cli_json(root, "materialize", "--json")
    first = catalog_rows(root, "SELECT digest, name FROM code_sources ORDER BY name")
    assert [n for _, n in first] == ["defs.RATE", "defs.base", "defs.scale", "defs.scaled"]
    sources = dict(catalog_rows(root, "SELECT name, source FROM code_sources"))
    digests = dict(catalog_rows(root, "SELECT name, digest FROM code_sources"))
    # stored as written, comments and docstrings included; shown normalized
    assert sources["defs.scaled"] == "@asset\ndef scaled(base):\n    return scale(base)\n"
    assert "# doubled" in sources["defs.scale"] and '"""Docstrings' in sources["defs.scale"]
    assert sources["defs.RATE"].startswith("RATE = 2  # a module constant")
    shown = {n: shown_source(sources[n], digests[n]) for n in sources}
    assert shown["defs.scaled"] == "def scaled(base):\n    return scale(base)"
    assert shown["defs.scale"] == "def scale(x):\n    return x * RATE"
    assert shown["defs.RATE"] == "RATE = 2"
    cli_json(root, "materialize", "--force", "--json")
    assert catalog_rows(root, "SELECT digest, name FROM code_sources ORDER BY name") == first


def test_sources_fingerprinted_in_the_run_are_stored_as_those_read_back_from_files(
    make_project, cli_json, catalog_rows
):
    query = "SELECT name, digest, source FROM code_sources ORDER BY name"
    fresh = make_project({"defs.py": DEFS, "feed/a.csv": "x\n1\n"})
    cli_json(fresh, "materialize", "--json")  # parts fingerprinted by this very process
    cached = make_project({"defs.py": DEFS, "feed/a.csv": "x\n1\n"})
    cli_json(cached, "plan", "--json")
    cli_json(cached, "materialize", "--json")  # parts from the cache: read back from the files
    assert catalog_rows(fresh, query) == catalog_rows(cached, query)
    for name, dig, text in catalog_rows(fresh, query):  # what is shown has the part's digest
        assert part_digest(ast.parse(shown_source(text, dig)).body[0]) == dig, name


def test_a_source_recorded_normalized_by_an_older_version_is_shown_as_stored():
    assert shown_source("def f(x):\n    return x + 1", "0" * 32) == "def f(x):\n    return x + 1"
    assert shown_source("SELECT 1 AS v\n", "0" * 32) == "SELECT 1 AS v\n"


CHECKED = """
from assets_core import asset, check


def describe(total):
    return f"{total} orders, counted by the nightly job that reads every order file landed so far"


@asset
def total():
    return 7


@asset
def label(total):
    return describe(total)


@check(total, blocking=True)
def positive(total):
    return total > 0
"""


def test_version_keeps_the_checks_that_gated_it_apart_from_later_audits(
    make_project, cli_json, run_cli
):
    root = make_project({"defs.py": CHECKED})
    cli_json(root, "materialize", "--json")
    (built,) = _history(cli_json, root, "total")
    assert run_cli(root, "check").returncode == 0  # a later audit of the same version
    info = cli_json(root, "show", "total", "--version", str(built["id"]), "--json")
    assert [(c["check_name"], c["passed"]) for c in info["checks"]] == [("positive", True)]
    assert [(a["check_name"], a["passed"]) for a in info["audits"]] == [("positive", True)]
    assert info["audits"][0]["run_id"] != info["run"]["id"]
    # piped, the code is printed whole: the exact text that was fingerprinted
    (lbl,) = _history(cli_json, root, "label")
    text = run_cli(root, "show", "label", "--version", str(lbl["id"])).stdout
    long_line = (
        "    return f'{total} orders, counted by the nightly job that reads every order file"
        " landed so far'"
    )
    assert long_line in text.splitlines()


def test_a_source_shows_the_versions_it_was_observed_at(
    make_project, cli_json, write_file, run_cli
):
    root = make_project({"defs.py": DEFS, "feed/a.csv": "x\n1\n"})
    never = cli_json(root, "show", "raw/feed", "--json")
    assert never["version"] is None and never["versions"] == []
    cli_json(root, "observe", "--json")
    write_file(root / "feed/a.csv", "x\n2\n")
    cli_json(root, "observe", "--json")
    cli_json(root, "observe", "--json")
    got = cli_json(root, "show", "raw/feed", "--json")
    assert [v["observations"] for v in got["versions"]] == [2, 1]  # newest first
    assert got["version"] == got["versions"][0]["version"]
    proc = run_cli(root, "show", "raw/feed", "--version", "ffffffff")
    assert proc.returncode == 2 and "never observed at a version 'ffffffff'" in proc.stderr
    assert "assets show raw/feed" in proc.stderr


def test_an_asset_function_edited_after_the_load_stores_no_source_for_its_old_digest(
    make_project, cli_json, load_project, catalog_rows
):
    # a cached version's function text is taken from its lines when they still have the
    # stamp they were fingerprinted with; edited since, nothing is stored under the digest
    import linecache

    from assets_core.executor import open_catalog
    from assets_core.provenance import record_code_sources

    root = make_project({"defs.py": DEFS, "feed/a.csv": "x\n1\n"})
    cli_json(root, "plan", "--json")  # fingerprints cached
    project = load_project(root)
    assert set(project.own_stamps) == {"base", "scaled"}
    assert not project.code_texts  # nothing fingerprinted in this load
    defs = root / "defs.py"
    defs.write_text(DEFS.replace("return len(feed)", "return len(feed) + 1"))
    linecache.checkcache(str(defs))
    catalog = open_catalog(project)
    try:
        record_code_sources(project, catalog, ["base", "scaled"])
    finally:
        catalog.close()
    stored = dict(catalog_rows(root, "SELECT name, digest FROM code_sources"))
    assert "defs.base" not in stored
    assert stored["defs.scaled"] == project.code_versions["scaled"].parts[0].digest
