"""Work on a second core (assets_core.parallel): a forked child computes part of a load.

A pytest worker runs threads, so no child is forked in it (see ``can_fork``): each test
that needs one runs its code in a fresh single-threaded interpreter.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from conftest import cli_env

from assets_core import parallel


def run_py(code: str, cwd: Path, **env: str) -> str:
    """Run ``code`` in a fresh interpreter; its stdout."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env(env),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_in_two_computes_the_second_half_in_a_child(tmp_path):
    out = run_py(
        """
        import json, os
        from assets_core.parallel import can_fork, in_two
        me = os.getpid()
        first, second = in_two(lambda xs: [(x * x, os.getpid() != me) for x in xs],
                               list(range(10)), min_items=4)
        print(json.dumps([can_fork(), first, second]))
        """,
        tmp_path,
    )
    could, first, second = json.loads(out)
    assert could is True
    assert first == [[x * x, False] for x in range(5)]  # here
    assert second == [[x * x, True] for x in range(5, 10)]  # in the child


@pytest.mark.parametrize(
    "failure",
    [
        "raise RuntimeError('only in the child')",
        "os._exit(3)",
        "return [lambda: 0]  # cannot be pickled",
    ],
)
def test_when_the_child_fails_the_parent_computes_its_half(tmp_path, failure):
    out = run_py(
        f"""
        import json, os
        from assets_core.parallel import in_two
        me = os.getpid()
        def work(xs):
            if os.getpid() != me:
                {failure}
            return [x + 1 for x in xs]
        print(json.dumps(in_two(work, [1, 2, 3, 4], min_items=2)))
        """,
        tmp_path,
    )
    assert json.loads(out) == [[2, 3], [4, 5]]


def test_an_error_in_the_parents_half_stops_the_child(tmp_path):
    out = run_py(
        """
        import os, time
        from assets_core.parallel import in_two
        me = os.getpid()
        def work(xs):
            if os.getpid() == me:
                raise ValueError("here")
            time.sleep(60)
            return xs
        try:
            in_two(work, [1, 2, 3, 4], min_items=2)
        except ValueError as e:
            try:
                os.waitpid(-1, os.WNOHANG)
                left = "a child is left"
            except ChildProcessError:
                left = "no child left"
            print(e, "|", left)
        """,
        tmp_path,
    )
    assert out.strip() == "here | no child left"


def test_no_child_for_little_work_or_when_told_not_to(tmp_path):
    code = """
        import json, os
        from assets_core.parallel import background, in_two
        me = os.getpid()
        where = lambda xs: [os.getpid() == me for _ in xs]
        pending = background(lambda: os.getpid() == me)
        print(json.dumps([in_two(where, [1, 2, 3], min_items=4), pending.forked,
                          pending.result()]))
        """
    assert json.loads(run_py(code, tmp_path)) == [[[True, True, True], None], True, False]
    told = json.loads(run_py(code, tmp_path, ASSETS_NO_FORK="1"))
    assert told == [[[True, True, True], None], False, True]


def test_a_process_running_threads_does_not_fork():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert parallel.can_fork() is False
        assert parallel.background(lambda: 1).forked is False
    finally:
        stop.set()
        thread.join()


def test_a_process_running_a_native_thread_does_not_fork(tmp_path):
    out = run_py(
        """
        import faulthandler
        from assets_core.parallel import can_fork
        before = can_fork()
        faulthandler.dump_traceback_later(300)  # a watchdog thread Python does not list
        print(before, can_fork())
        faulthandler.cancel_dump_traceback_later()
        """,
        tmp_path,
    )
    assert out.split() == ["True", "False"]


def test_with_meanwhile_work_the_child_takes_every_item(tmp_path):
    out = run_py(
        """
        import json, os
        from assets_core.parallel import in_two, meanwhile
        me = os.getpid()
        ran = []
        with meanwhile(lambda: ran.append(os.getpid() == me)):
            first, second = in_two(lambda xs: [os.getpid() != me for _ in xs], [1, 2, 3, 4],
                                   min_items=2)
        print(json.dumps([first, second, ran]))
        """,
        tmp_path,
    )
    assert json.loads(out) == [[], [True, True, True, True], [True]]


def test_meanwhile_work_runs_once_here_while_the_child_computes(tmp_path):
    out = run_py(
        """
        import json, os, time
        from assets_core.parallel import background, meanwhile, meanwhile_pending
        me = os.getpid()
        ran = []
        with meanwhile(lambda: ran.append(os.getpid() == me)):
            assert meanwhile_pending()
            value = background(lambda: (time.sleep(0.2), os.getpid() != me)[1]).result()
            again = background(lambda: 7).result()
        print(json.dumps([value, again, ran, meanwhile_pending()]))
        """,
        tmp_path,
    )
    assert json.loads(out) == [True, 7, [True], False]


def _many_functions(n: int) -> str:
    lines = ["def helper(x):", "    return x * 3", ""]
    for i in range(n):
        ups = f"a{i - 1}" if i else ""
        body = f"helper({ups}) + {i}" if i else "1"
        lines += ["@asset", f"def a{i}({ups}):", f"    # asset {i}", f"    return {body}", ""]
    return "from assets_core import asset\n\n" + "\n".join(lines)


LOAD_VERSIONS = """
    import json, sys
    from assets_core.project import Project
    p = Project.load(sys.argv[1] if len(sys.argv) > 1 else ".")
    print(json.dumps({
        "versions": {k: [v.version, [list(x) for x in v.parts]]
                     for k, v in p.code_versions.items()},
        "texts": p.code_texts,
        "upstream": {k: list(v) for k, v in p.graph.upstream.items()},
        "sqlglot": "sqlglot" in sys.modules,
    }))
"""


def test_a_cold_load_of_many_functions_gives_the_same_versions_forked_or_not(
    make_project, tmp_path
):
    root = make_project({"defs.py": _many_functions(260)})
    forked = json.loads(run_py(LOAD_VERSIONS, root))
    shutil.rmtree(root / ".assets")
    alone = json.loads(run_py(LOAD_VERSIONS, root, ASSETS_NO_FORK="1"))
    assert forked == alone
    assert len(forked["versions"]) == 260
    # the child's half carries its helper and texts back: a260's last half uses helper
    assert any(name.endswith(".helper") for name, _, _ in forked["versions"]["a259"][1])
    assert len(forked["texts"]) == 261  # 260 assets and the helper


SQL_DEFS = """
from assets_core import asset

@asset
def base():
    return 1
"""


def _sql_project(make_project, n: int):
    files = {"defs.py": SQL_DEFS}
    for i in range(n):
        up = "base" if i == 0 else f"m{i - 1:03d}"
        files[f"models/m{i:03d}.sql"] = f"-- model {i}\nSELECT {i} + v AS v FROM {up}"
    return make_project(files, extra_toml='sql_paths = ["models"]\n')


def test_a_cold_load_of_many_sql_files_gives_the_same_definitions_forked_or_not(
    make_project,
):
    root = _sql_project(make_project, 120)
    forked = json.loads(run_py(LOAD_VERSIONS, root))
    shutil.rmtree(root / ".assets")
    alone = json.loads(run_py(LOAD_VERSIONS, root, ASSETS_NO_FORK="1"))
    assert forked == alone
    assert forked["upstream"]["m119"] == ["m118"]


def test_a_sql_error_in_a_forked_half_is_reported_as_without_a_child(make_project):
    root = _sql_project(make_project, 120)
    (root / "models" / "m110.sql").write_text("-- model\nSELECT (1 + FROM m109\n")
    code = """
        from assets_core.errors import AssetsError
        from assets_core.project import Project
        try:
            Project.load(".")
        except AssetsError as e:
            print(e.render())
    """
    forked = run_py(code, root)
    alone = run_py(code, root, ASSETS_NO_FORK="1")
    assert forked == alone
    assert "m110.sql:2" in forked


def test_a_changed_sql_file_is_parsed_in_a_child_while_meanwhile_work_runs(make_project):
    root = _sql_project(make_project, 3)
    run_py(LOAD_VERSIONS, root)  # the parse cache is warm
    (root / "models" / "m002.sql").write_text("SELECT 5 * v AS v FROM m001")
    code = """
        import json, sys
        from assets_core.parallel import meanwhile
        from assets_core.project import Project
        ran = []
        with meanwhile(lambda: ran.append("sqlglot" in sys.modules)):
            p = Project.load(".")
        d = p.graph.defs["m002"]
        print(json.dumps([ran, "sqlglot" in sys.modules, d.fingerprint, list(d.tables)]))
    """
    ran, imported, fingerprint, tables = json.loads(run_py(code, root))
    assert ran == [False] and imported is False  # sqlglot was imported by the child only
    assert tables == ["m001"]
    (root / ".assets" / "cache" / "sql_assets.pickle").unlink()
    alone = json.loads(run_py(code, root, ASSETS_NO_FORK="1"))
    assert alone[1] is True and alone[2] == fingerprint  # the same parse, made here
