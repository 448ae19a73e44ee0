"""Each example's README shows ``graph.svg``, and that picture is the project's current graph.

The SVG is drawn by ``assets lineage --no-checks --format svg``; graphviz titles each
node with its id (the key with ``/`` as ``--``) and each edge with ``FROM->TO``, so the
titles in the committed file must be exactly the nodes and edges the CLI reports now.
"""

from __future__ import annotations

import html
import re

import pytest
from example_story import EXAMPLES, copy_example

NAMES = ["bi_dashboard", "aml_compliance", "ml_pipeline"]
_TITLE = re.compile(r"<title>([^<]*)</title>")


def _node_id(key: str) -> str:
    return key.replace("/", "--")


@pytest.mark.parametrize("name", NAMES)
def test_readme_graph_is_the_projects_current_graph(name: str, tmp_path, cli_json) -> None:
    proj = copy_example(name, tmp_path)
    graph = cli_json(proj, "lineage", "--no-checks", "--json")
    want = {_node_id(n["key"]) for n in graph["nodes"]}
    want |= {f"{_node_id(e['from'])}->{_node_id(e['to'])}" for e in graph["edges"]}
    svg = (EXAMPLES / name / "graph.svg").read_text(encoding="utf-8")
    titles = {html.unescape(t) for t in _TITLE.findall(svg)}
    drawn = {t for t in titles if t != "lineage" and not t.startswith(("cluster_", "legend--"))}
    assert drawn == want, (
        f"example_projects/{name}/graph.svg is out of date: redraw it with "
        f"`assets -p example_projects/{name} lineage --no-checks --format svg "
        f"-o example_projects/{name}/graph.svg` after a first materialize"
    )
    readme = (EXAMPLES / name / "README.md").read_text(encoding="utf-8")
    assert "![the asset graph](graph.svg)" in readme
    assert f"lineage --no-checks --format svg -o example_projects/{name}/graph.svg" in readme
