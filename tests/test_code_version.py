"""Code versions: fingerprints of normalized code, including project helpers, nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assets_core.code_version import CodeVersion, diff_parts

BASE = '''
from assets_core import asset

@asset
def orders():
    return [3, 1, 2]

@asset
def total(orders):
    """Sum of all orders."""
    return sum(orders)
'''

# The same code: other layout, comments, docstrings, decorators spelled differently.
REFORMATTED = '''
"""A module docstring that was not there before."""
from assets_core import asset   # the decorator


@asset()
def orders(
):
    # three orders, unsorted
    return [ 3,
             1,
             2 ]


@asset
def total(orders):
    """Sum of all orders (the docstring changed too)."""

    return sum( orders )   # a trailing comment
'''

CHANGED_BODY = BASE.replace("return sum(orders)", "return sum(orders) * 2")

HELPERS = {
    "lib/__init__.py": "",
    "lib/helpers.py": """
        def inner(x):
            return x + 1


        def outer(x):
            return inner(x) * 2


        def unused(x):
            return x
    """,
    "defs.py": """
        from assets_core import asset
        from lib.helpers import outer

        @asset
        def a():
            return 1

        @asset
        def uses_helper(a):
            return outer(a)

        @asset
        def other(a):
            return a + 10
    """,
}


def versions(project) -> dict[str, str]:
    return {k: v.version for k, v in project.code_versions.items()}


def test_reformatting_comments_and_docstrings_do_not_change_the_version(
    make_project, write_file, load_project
) -> None:
    root = make_project({"defs.py": BASE})
    before = versions(load_project(root))
    write_file(root / "defs.py", REFORMATTED)
    after = versions(load_project(root))
    assert before == after


def test_changing_the_body_changes_only_that_assets_version(
    make_project, write_file, load_project
) -> None:
    root = make_project({"defs.py": BASE})
    before = load_project(root).code_versions
    write_file(root / "defs.py", CHANGED_BODY)
    after = load_project(root).code_versions
    assert before["total"].version != after["total"].version
    assert before["orders"].version == after["orders"].version


def test_a_helper_two_calls_deep_in_another_module_is_part_of_the_version(
    make_project, load_project
) -> None:
    root = make_project(HELPERS, modules=["defs"])
    cv = load_project(root).code_versions["uses_helper"]
    parts = {p.name: p.file for p in cv.parts}
    assert cv.parts[0].name == "defs.uses_helper"
    assert parts == {
        "defs.uses_helper": "defs.py",
        "lib.helpers.outer": str(Path("lib/helpers.py")),
        "lib.helpers.inner": str(Path("lib/helpers.py")),
    }


def test_editing_a_deep_helper_changes_exactly_the_assets_that_use_it(
    make_project, write_file, load_project
) -> None:
    root = make_project(HELPERS, modules=["defs"])
    before = load_project(root).code_versions
    text = (root / "lib/helpers.py").read_text().replace("return x + 1", "return x + 2")
    write_file(root / "lib/helpers.py", text)
    after = load_project(root).code_versions
    changed = {k for k in before if before[k].version != after[k].version}
    assert changed == {"uses_helper"}
    assert diff_parts(before["uses_helper"].as_mapping(), after["uses_helper"].as_mapping()) == [
        f"lib.helpers.inner changed ({Path('lib/helpers.py')})"
    ]


def test_editing_an_unused_function_in_a_helper_module_changes_nothing(
    make_project, write_file, load_project
) -> None:
    root = make_project(HELPERS, modules=["defs"])
    before = versions(load_project(root))
    text = (root / "lib/helpers.py").read_text().replace("return x\n", "return x * 100\n")
    write_file(root / "lib/helpers.py", text)
    assert versions(load_project(root)) == before


@pytest.mark.parametrize(
    ("imports", "call"),
    [
        ("from lib import helpers", "helpers.outer(a)"),
        ("from lib import helpers as h", "h.outer(a)"),
        ("import lib.helpers as h", "h.outer(a)"),
        ("from lib.helpers import outer as o", "o(a)"),
        ("import lib.helpers", "lib.helpers.outer(a)"),
    ],
)
def test_helpers_are_followed_however_they_are_imported(
    make_project, load_project, imports: str, call: str
) -> None:
    files = dict(HELPERS)
    files["defs.py"] = f"""
        from assets_core import asset
        {imports}

        @asset
        def a():
            return 1

        @asset
        def uses_helper(a):
            return {call}
    """
    root = make_project(files, modules=["defs"])
    names = {p.name for p in load_project(root).code_versions["uses_helper"].parts}
    assert {"lib.helpers.outer", "lib.helpers.inner"} <= names


def test_classes_and_constants_reached_through_a_module_count(
    make_project, write_file, load_project
) -> None:
    files = {
        "lib/__init__.py": "",
        "lib/helpers.py": """
            FACTOR = 2


            class Scaler:
                def apply(self, x):
                    return x * FACTOR
        """,
        "defs.py": """
            import lib.helpers
            from assets_core import asset
            from lib import helpers

            @asset
            def scaled():
                return helpers.Scaler().apply(1)

            @asset
            def factor():
                return lib.helpers.FACTOR
        """,
    }
    root = make_project(files, modules=["defs"])
    before = load_project(root).code_versions
    assert {p.name for p in before["scaled"].parts} == {
        "defs.scaled",
        "lib.helpers.Scaler",
        "lib.helpers.FACTOR",
    }
    assert {p.name for p in before["factor"].parts} == {"defs.factor", "lib.helpers.FACTOR"}
    text = (root / "lib/helpers.py").read_text().replace("FACTOR = 2", "FACTOR = 3")
    write_file(root / "lib/helpers.py", text)
    after = load_project(root).code_versions
    assert after["scaled"].version != before["scaled"].version
    assert after["factor"].version != before["factor"].version


def test_a_module_constant_used_by_an_asset_is_part_of_its_version(
    make_project, write_file, load_project
) -> None:
    src = """
        from assets_core import asset

        RATE = 1.08
        UNUSED = 7

        @asset
        def converted():
            return 100 * RATE

        @asset
        def plain():
            return 100
    """
    root = make_project({"defs.py": src})
    before = load_project(root).code_versions
    assert "defs.RATE" in {p.name for p in before["converted"].parts}
    assert "defs.UNUSED" not in {p.name for p in before["converted"].parts}

    write_file(root / "defs.py", src.replace("UNUSED = 7", "UNUSED = 8"))
    mid = load_project(root).code_versions
    assert {k: v.version for k, v in mid.items()} == {k: v.version for k, v in before.items()}

    write_file(root / "defs.py", src.replace("RATE = 1.08", "RATE = 1.10"))
    after = load_project(root).code_versions
    assert after["converted"].version != before["converted"].version
    assert after["plain"].version == before["plain"].version
    assert diff_parts(before["converted"].as_mapping(), after["converted"].as_mapping()) == [
        "defs.RATE changed (defs.py)"
    ]


def test_a_constant_imported_from_another_project_module_counts(
    make_project, write_file, load_project
) -> None:
    files = {
        "settings.py": "RATE = 2\n",
        "defs.py": """
            from assets_core import asset
            from settings import RATE

            @asset
            def scaled():
                return 10 * RATE
        """,
    }
    root = make_project(files, modules=["defs"])
    before = load_project(root).code_versions["scaled"]
    assert "settings.RATE" in {p.name for p in before.parts}
    write_file(root / "settings.py", "RATE = 3\n")
    assert load_project(root).code_versions["scaled"].version != before.version


def test_a_project_class_used_by_an_asset_counts(make_project, write_file, load_project) -> None:
    src = """
        from assets_core import asset

        class Scaler:
            factor = 2

            def apply(self, x):
                return x * self.factor

        @asset
        def scaled():
            return Scaler().apply(10)
    """
    root = make_project({"defs.py": src})
    before = load_project(root).code_versions["scaled"]
    assert "defs.Scaler" in {p.name for p in before.parts}
    write_file(root / "defs.py", src.replace("factor = 2", "factor = 3"))
    assert load_project(root).code_versions["scaled"].version != before.version


@pytest.mark.parametrize(
    ("imports", "call"),
    [
        ("import json", "json.dumps(a)"),
        ("from json import dumps", "dumps(a)"),
        ("import os.path", "os.path.join('x', str(a))"),
        ("from pathlib import Path", "str(Path('x') / str(a))"),
    ],
)
def test_third_party_and_stdlib_functions_are_not_part_of_the_version(
    make_project, load_project, imports: str, call: str
) -> None:
    src = f"""
        from assets_core import asset
        {imports}

        @asset
        def a():
            return 1

        @asset
        def uses_library(a):
            return {call}
    """
    root = make_project({"defs.py": src})
    cv = load_project(root).code_versions["uses_library"]
    assert [p.name for p in cv.parts] == ["defs.uses_library"]


def test_parameters_named_like_other_asset_functions_do_not_pull_them_in(
    make_project, write_file, load_project
) -> None:
    src = """
        from assets_core import asset

        @asset
        def orders():
            return [1, 2, 3]

        @asset
        def customers():
            return ["ana"]

        @asset
        def report(orders, customers):
            return len(orders) + len(customers)
    """
    root = make_project({"defs.py": src})
    before = load_project(root).code_versions
    assert [p.name for p in before["report"].parts] == ["defs.report"]
    write_file(root / "defs.py", src.replace("[1, 2, 3]", "[1, 2, 3, 4]"))
    after = load_project(root).code_versions
    assert after["orders"].version != before["orders"].version
    assert after["report"].version == before["report"].version


def test_local_variables_named_like_helpers_do_not_pull_them_in(make_project, load_project) -> None:
    src = """
        from assets_core import asset

        def helper():
            return 1

        @asset
        def local_only():
            helper = 5
            return [helper for helper in range(helper)]
    """
    root = make_project({"defs.py": src})
    cv = load_project(root).code_versions["local_only"]
    assert [p.name for p in cv.parts] == ["defs.local_only"]


def test_a_pinned_code_version_ignores_the_body(make_project, write_file, load_project) -> None:
    src = """
        from assets_core import asset

        @asset(code_version="v1")
        def model():
            return 1
    """
    root = make_project({"defs.py": src})
    before = load_project(root).code_versions["model"]
    assert before == CodeVersion.pinned("v1")
    assert before.version == "v1"
    write_file(root / "defs.py", src.replace("return 1", "return 2"))
    assert load_project(root).code_versions["model"].version == "v1"
    write_file(root / "defs.py", src.replace('"v1"', '"v2"'))
    assert load_project(root).code_versions["model"].version == "v2"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("return [3, 1, 2]", "return [3, 1, 1 + 1]"),  # compiles to the same bytecode
        ("return [3, 1, 2]", "return [3, 1, 2, 4]"),
        ("return [3, 1, 2]", "return [3, 1, 2]  # a comment"),
    ],
)
def test_the_version_does_not_depend_on_the_code_version_cache(
    make_project, write_file, load_project, old: str, new: str
) -> None:
    root = make_project({"defs.py": BASE})
    load_project(root)  # fills the cache
    write_file(root / "defs.py", BASE.replace(old, new))
    with_cache = load_project(root).code_versions["orders"]
    shutil.rmtree(root / ".assets" / "cache")
    without_cache = load_project(root).code_versions["orders"]
    assert with_cache == without_cache


def test_the_version_is_the_same_in_a_new_process(make_project, cli_json) -> None:
    root = make_project(HELPERS, modules=["defs"])
    first = {a["key"]: a["code_version"] for a in cli_json(root, "list", "--json")["assets"]}
    # a second process, with the code-version cache removed, computes the same versions
    for f in (root / ".assets").rglob("*.pickle"):
        f.unlink()
    second = {a["key"]: a["code_version"] for a in cli_json(root, "list", "--json")["assets"]}
    assert first == second
    assert len(set(first.values())) == 3


def test_diff_parts_names_added_changed_and_removed_parts() -> None:
    old = {"m.a": ["m.py", "1"], "lib.h": ["lib/h.py", "2"], "lib.gone": ["lib/g.py", "3"]}
    new = {"m.a": ["m.py", "1"], "lib.h": ["lib/h.py", "9"], "lib.new": ["lib/n.py", "4"]}
    assert diff_parts(old, new) == [
        "lib.h changed (lib/h.py)",
        "now uses lib.new (lib/n.py)",
        "no longer uses lib.gone (lib/g.py)",
    ]
    assert diff_parts(None, new) == ["code version changed"]
    assert diff_parts(old, old) == ["code version changed"]


CYCLE = {
    "lib/__init__.py": "",
    "lib/parity.py": """
        LIMIT = 100


        def even(n):
            return n == 0 or odd(n - 1)


        def odd(n):
            return n != 0 and even(n - 1) and n < LIMIT
    """,
    "defs.py": """
        from assets_core import asset
        from lib.parity import even, odd

        @asset
        def uses_even():
            return even(4)

        @asset
        def uses_odd():
            return odd(3)

        @asset
        def uses_both():
            return even(2) or odd(2)
    """,
}


@pytest.mark.parametrize("first", ["uses_even", "uses_odd", "uses_both"])
def test_helpers_shared_by_assets_and_calling_each_other_count_whole_in_each_asset(
    make_project, load_project, first
) -> None:
    from assets_core.code_version import Fingerprinter

    root = make_project(CYCLE, modules=["defs"])
    project = load_project(root)
    fns = {k: project.graph.defs[k].fn for k in ("uses_even", "uses_odd", "uses_both")}
    alone = {k: Fingerprinter(root).version_of(fn) for k, fn in fns.items()}
    shared = Fingerprinter(root)  # helpers walked once, for whichever asset comes first
    together = {k: shared.version_of(fns[k]) for k in [first, *sorted(set(fns) - {first})]}
    assert together == alone
    for cv in alone.values():
        assert {p.name for p in cv.parts[1:]} == {
            "lib.parity.even",
            "lib.parity.odd",
            "lib.parity.LIMIT",
        }


def test_canonical_text_tells_trees_apart_exactly_as_their_dumps_do() -> None:
    # every function and class of the package itself: equal canonical texts exactly
    # when the trees are equal (ast.dump without positions)
    import ast

    import assets_core
    from assets_core.code_version import canonical

    by_dump: dict[str, str] = {}
    by_text: dict[str, str] = {}
    for path in sorted(Path(assets_core.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Assign):
                dump, text = ast.dump(node), canonical(node)[0]
                assert by_dump.setdefault(dump, text) == text
                assert by_text.setdefault(text, dump) == dump
    assert len(by_text) > 1000


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("x = (1, 2)", "x = [1, 2]"),
        ("x = 1", "x = 1.0"),
        ("x = 1", "x = True"),
        ("f(*a)", "f(a)"),
        ("def f(a, *, b): pass", "def f(a, b): pass"),
        ("def f(a, b=1): pass", "def f(a=1, b=2): pass"),
        ("x = a.b.c", "x = a.b_c"),
        ("x = ''", "x = None"),
        ("x = f()", "x = f"),
    ],
)
def test_different_code_has_different_digests(a: str, b: str) -> None:
    import ast

    from assets_core.code_version import part_digest

    assert part_digest(ast.parse(a)) != part_digest(ast.parse(b))


def test_layout_quoting_and_comments_leave_the_digest_alone() -> None:
    import ast

    from assets_core.code_version import part_digest

    one = "def f(a,b):\n    return {'k': [a ,b]}  # note\n"
    two = 'def f(a, b):\n\n    return {\n        "k": [a, b],\n    }\n'
    assert part_digest(ast.parse(one)) == part_digest(ast.parse(two))


def test_the_stamps_of_a_cold_fingerprint_are_those_a_warm_load_checks(
    make_project, load_project
) -> None:
    # a cold fingerprint stamps each function from the lines it parsed; the next load
    # re-checks those stamps with code_stamp: they must agree, or nothing is ever reused
    from assets_core.code_version import Fingerprinter, code_stamp

    root = make_project(
        {
            "helpers.py": "def double(x):\n    # twice\n    return 2 * x\n",
            "defs.py": (
                "from assets_core import asset\nfrom helpers import double\n\n\n"
                "@asset\ndef a():\n    return double(1)\n\n\n"
                "class Box:\n    @staticmethod\n    def inner():\n        return double(3)\n"
            ),
        }
    )
    project = load_project(root)
    import defs
    import helpers

    fp = Fingerprinter(root)
    for fn in (project.graph.defs["a"].fn, helpers.double, defs.Box.inner):
        probes = fp.probes_of(fp.version_of(fn))
        assert probes[0][3] == code_stamp(fn)
    assert {p[2] for p in fp.probes_of(fp.version_of(defs.Box.inner))} == {"Box.inner", "double"}
