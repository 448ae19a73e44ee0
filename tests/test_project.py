"""Projects: finding the folder, reading [tool.assets], importing definitions."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from assets_core.code_cache import CACHE_NAME as CODE_CACHE
from assets_core.definitions import AssetDef, SourceDef
from assets_core.errors import DefinitionError, ProjectError
from assets_core.project import DEFAULT_CATALOG, find_root, read_config

DEFS = """
    from assets_core import asset, source

    orders = source("raw/orders", path="data/*.csv")

    @asset(key_prefix="bi", tags=["finance"])
    def revenue(orders):
        return len(orders)
"""


def test_find_root_searches_upward_from_a_subfolder(make_project) -> None:
    root = make_project({"defs.py": DEFS})
    deep = root / "notebooks" / "2024"
    deep.mkdir(parents=True)
    assert find_root(deep) == root.resolve()
    assert find_root(root) == root.resolve()


def test_find_root_skips_a_pyproject_without_tool_assets(make_project) -> None:
    root = make_project({"defs.py": DEFS})
    inner = root / "vendored"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_root(inner) == root.resolve()


def test_no_project_above_is_a_project_error_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as ei:
        find_root(tmp_path)
    assert f"no assets project at or above {tmp_path.resolve()}" in str(ei.value)
    assert ei.value.hint is not None and "-p/--project" in ei.value.hint


def test_config_defaults_anchor_catalog_and_store_in_the_project(
    make_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSETS_CATALOG_URL", raising=False)
    root = make_project({"defs.py": DEFS})
    cfg = read_config(root)
    assert cfg.modules == ("defs",)
    assert DEFAULT_CATALOG == "sqlite:///.assets/catalog.db"
    assert cfg.catalog_url == f"sqlite:///{root.resolve()}/.assets/catalog.db"
    assert cfg.store_path == root.resolve() / ".assets" / "store"


def test_config_reads_catalog_and_store_settings(
    make_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSETS_CATALOG_URL", raising=False)
    root = make_project(
        {"defs.py": DEFS}, extra_toml='catalog = "sqlite:///state/cat.db"\nstore = "/data/x"\n'
    )
    cfg = read_config(root)
    assert cfg.catalog_url == f"sqlite:///{root.resolve()}/state/cat.db"
    assert cfg.store_path == Path("/data/x")


def test_assets_catalog_url_overrides_the_configured_catalog(
    make_project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = make_project({"defs.py": DEFS}, extra_toml='catalog = "sqlite:///state/cat.db"\n')
    monkeypatch.setenv("ASSETS_CATALOG_URL", f"sqlite:///{tmp_path}/elsewhere.db")
    assert read_config(root).catalog_url == f"sqlite:///{tmp_path}/elsewhere.db"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[tool.assets]\nmodules = ["defs"]\nmodule = ["x"]\n', "unknown key(s) in [tool.assets]"),
        ('[tool.assets]\nmodules = "defs"\n', "modules must be a list of module names"),
        ('[tool.other]\nx = 1\n[project]\nname="p"\n', "has no [tool.assets] table"),
        ("[tool.assets\n", "pyproject.toml"),
    ],
)
def test_a_bad_tool_assets_table_is_a_project_error(
    tmp_path: Path, toml: str, message: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(toml)
    with pytest.raises(ProjectError) as ei:
        read_config(tmp_path)
    assert message in str(ei.value)


def test_loading_collects_definitions_builds_the_graph_and_code_versions(
    make_project, load_project
) -> None:
    root = make_project({"defs.py": DEFS})
    project = load_project(root)
    assert project.root == root.resolve()
    assert isinstance(project.graph.defs["raw/orders"], SourceDef)
    assert isinstance(project.graph.defs["bi/revenue"], AssetDef)
    assert project.graph.upstream["bi/revenue"] == ("raw/orders",)
    assert set(project.code_versions) == {"bi/revenue"}
    snap = project.definitions_snapshot()
    rev = snap["bi/revenue"]
    assert (rev["kind"], rev["group"], rev["tags"]) == ("python", "bi", ["finance"])
    assert (rev["upstream"], rev["deps"]) == (["raw/orders"], [])
    assert (rev["file"], rev["line"]) == ("defs.py", 5)
    assert rev["code_version"] == project.code_versions["bi/revenue"].version
    assert snap["raw/orders"]["kind"] == "source"


def test_a_package_module_brings_in_all_its_submodules(make_project, load_project) -> None:
    files = {
        "pipeline/__init__.py": "",
        "pipeline/sources.py": """
            from assets_core import source
            orders = source("raw/orders", path="data/*.csv")
        """,
        "pipeline/marts/__init__.py": "",
        "pipeline/marts/revenue.py": """
            from assets_core import asset

            @asset(key_prefix="bi")
            def revenue(orders):
                return len(orders)
        """,
    }
    root = make_project(files, modules=["pipeline"])
    project = load_project(root)
    assert set(project.graph.defs) == {"raw/orders", "bi/revenue"}


def test_a_definition_imported_into_two_modules_counts_once(make_project, load_project) -> None:
    files = {
        "base.py": """
            from assets_core import asset

            @asset
            def a():
                return 1
        """,
        "more.py": """
            from assets_core import asset
            from base import a

            @asset
            def b(a):
                return a
        """,
    }
    project = load_project(make_project(files))
    assert set(project.graph.defs) == {"a", "b"}


def test_a_missing_module_is_a_project_error_naming_the_file_to_create(
    make_project, load_project
) -> None:
    root = make_project({"defs.py": DEFS}, modules=["defs", "marts"])
    with pytest.raises(ProjectError) as ei:
        load_project(root)
    assert "module 'marts' listed in [tool.assets] modules is not in" in str(ei.value)
    assert ei.value.hint == f"create {root.resolve() / 'marts.py'} or fix the name"


def test_an_error_while_importing_user_code_shows_only_user_frames(
    make_project, load_project
) -> None:
    src = """
        def read_settings():
            return {}["region"]

        SETTINGS = read_settings()
    """
    root = make_project({"defs.py": src})
    with pytest.raises(DefinitionError) as ei:
        load_project(root)
    text = str(ei.value)
    assert "importing defs failed" in text
    assert f'File "{root.resolve() / "defs.py"}", line 4, in <module>' in text
    assert "line 2, in read_settings" in text
    assert "KeyError: 'region'" in text
    assert "assets_core" not in text
    assert "importlib" not in text


def test_a_missing_third_party_package_suggests_installing_it(make_project, load_project) -> None:
    root = make_project({"defs.py": "import no_such_package_xyz\n"})
    with pytest.raises(DefinitionError) as ei:
        load_project(root)
    assert ei.value.hint == "install the missing package 'no_such_package_xyz'"


def test_loading_twice_sees_edited_definitions(make_project, write_file, load_project) -> None:
    root = make_project({"defs.py": DEFS})
    assert "bi/revenue" in load_project(root).graph.defs
    write_file(root / "defs.py", DEFS.replace('key_prefix="bi"', 'key_prefix="finance"'))
    assert "finance/revenue" in load_project(root).graph.defs


def test_the_code_version_cache_follows_helper_edits(
    make_project, write_file, load_project
) -> None:
    files = {
        "helpers.py": "def scale(x):\n    return x * 2\n",
        "defs.py": """
            from assets_core import asset
            from helpers import scale

            @asset
            def scaled():
                return scale(21)
        """,
    }
    root = make_project(files, modules=["defs"])
    first = load_project(root).code_versions["scaled"]
    assert (root / ".assets" / "cache").is_dir()
    assert load_project(root).code_versions["scaled"] == first  # served from the cache
    write_file(root / "helpers.py", "def scale(x):\n    return x * 3\n")
    assert load_project(root).code_versions["scaled"].version != first.version


HELPER_DEFS = {
    "helpers.py": "def scale(x):\n    return x * 2\n",
    "defs.py": """
        from assets_core import asset
        from helpers import scale

        @asset
        def scaled():
            return scale(21)

        @asset
        def plain():
            return 1
    """,
}


def _age(root: Path, *names: str) -> None:
    """Date ``names`` an hour back: their (size, mtime) is then trusted for their content."""
    old = time.time() - 3600
    for name in names:
        os.utime(root / name, (old, old))


def test_an_edited_helper_is_noticed_after_its_file_stamp_was_cached(
    make_project, write_file, load_project
) -> None:
    root = make_project(HELPER_DEFS, modules=["defs"])
    _age(root, "helpers.py", "defs.py")
    first = load_project(root).code_versions
    assert (root / ".assets" / "cache" / "code_files.pickle").is_file()
    assert load_project(root).code_versions == first  # stamps by (size, mtime)
    write_file(root / "helpers.py", "def scale(x):\n    return x * 3\n")  # same size
    edited = load_project(root).code_versions
    assert edited["scaled"].version != first["scaled"].version
    assert "helpers.scale" in {p.name for p in edited["scaled"].parts}
    assert edited["plain"] == first["plain"]


def test_touching_a_file_without_changing_it_keeps_every_code_version(
    make_project, load_project
) -> None:
    root = make_project(HELPER_DEFS, modules=["defs"])
    _age(root, "helpers.py", "defs.py")
    first = load_project(root).code_versions
    os.utime(root / "helpers.py")  # now: a new mtime, the same content
    assert load_project(root).code_versions == first


def test_a_load_that_changes_nothing_leaves_the_code_version_cache_as_it_was(
    make_project, load_project
) -> None:
    root = make_project(HELPER_DEFS, modules=["defs"])
    _age(root, "helpers.py", "defs.py")
    first = load_project(root).code_versions
    cache = root / ".assets" / "cache" / CODE_CACHE
    before = cache.read_bytes()
    os.utime(cache, (1, 1))  # any rewrite would show as a new mtime
    assert load_project(root).code_versions == first
    assert cache.stat().st_mtime == 1
    assert cache.read_bytes() == before


def test_a_corrupt_code_version_cache_is_recomputed(make_project, load_project) -> None:
    root = make_project(HELPER_DEFS, modules=["defs"])
    first = load_project(root).code_versions
    cache = root / ".assets" / "cache" / CODE_CACHE
    cache.write_bytes(b"not a pickle")
    assert load_project(root).code_versions == first
    assert cache.read_bytes() != b"not a pickle"


def test_a_version_served_from_the_cache_reads_its_parts_when_first_asked_for(
    make_project, load_project
) -> None:
    root = make_project(HELPER_DEFS, modules=["defs"])
    first = load_project(root).code_versions  # fingerprinted: every part at hand
    served = load_project(root).code_versions
    assert "2 without their parts" in repr(served)
    assert served.texts == {k: cv.version for k, cv in first.items()}
    assert list(served) == list(first) and "plain" in served and "other" not in served
    assert served["scaled"] == first["scaled"]  # built with its parts, and so is the rest
    assert "0 without their parts" in repr(served)
    assert dict(served) == dict(first)


def test_parts_missing_from_the_cache_are_fingerprinted_again(make_project, load_project) -> None:
    import pickle

    root = make_project(HELPER_DEFS, modules=["defs"])
    first = load_project(root).code_versions
    cache = root / ".assets" / "cache" / CODE_CACHE
    body = pickle.loads(cache.read_bytes())
    body["parts"] = pickle.dumps({}, protocol=5)  # as a faulty writer would leave it
    cache.write_bytes(pickle.dumps(body, protocol=5))
    served = load_project(root).code_versions
    assert served.texts["scaled"] == first["scaled"].version
    assert served["scaled"] == first["scaled"]
    assert {p.name for p in served["scaled"].parts} == {"defs.scaled", "helpers.scale"}
