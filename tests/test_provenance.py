"""assets show KEY --version V: what produced a version, as recorded when it was materialized."""

from __future__ import annotations

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
    assert up["inputs"][0]["key"] == "raw/feed" and up["inputs"][0]["show"] is None


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
    assert sources["defs.scaled"] == "def scaled(base):\n    return scale(base)"
    assert sources["defs.scale"] == "def scale(x):\n    return x * RATE"
    cli_json(root, "materialize", "--force", "--json")
    assert catalog_rows(root, "SELECT digest, name FROM code_sources ORDER BY name") == first
