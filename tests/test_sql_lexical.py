"""The layout-free key of a SQL text: equal across comment and whitespace edits only."""

from __future__ import annotations

import pytest

from assets_core.sql.lexical import layout_free_key

BASE = "SELECT (31 + u0.v + u1.v) % 1000003 AS v FROM a u0 CROSS JOIN b u1 WHERE x <= 'a -- b'"


@pytest.mark.parametrize(
    "edited",
    [
        "-- reviewed\n" + BASE,
        BASE.replace(" FROM ", "\n  FROM -- reformatted\n    "),
        BASE.replace("+", " + ").replace("(", "( ").replace(")", " )"),
        BASE.replace(" WHERE ", " /* only rows we want */ WHERE\n\t"),
        "\n\n  " + BASE + "  \n-- the end\n",
    ],
)
def test_comment_and_whitespace_edits_keep_the_key(edited):
    assert layout_free_key(BASE) is not None
    assert layout_free_key(edited) == layout_free_key(BASE)


@pytest.mark.parametrize(
    "edited",
    [
        BASE.replace("31", "32"),  # a literal
        BASE.replace("<=", "< ="),  # an operator split in two
        BASE.replace("'a -- b'", "'a  -- b'"),  # whitespace inside a string
        BASE.replace("SELECT", "select"),  # keyword case: the full parse decides
        BASE.replace("u1.v", "u1 . v"),
        BASE.replace("1000003", "1000 003"),
    ],
)
def test_other_edits_change_the_key(edited):
    assert layout_free_key(edited) != layout_free_key(BASE)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT N'x'",  # a prefixed literal
        "SELECT 'a'\n'b'",  # literals a newline joins (PostgreSQL)
        "SELECT $1",
        "SELECT $$x$$",
        "SELECT `a` FROM t",
        "SELECT 1 # mysql comment",
        "SELECT [1, 2]",
        "SELECT 'it\\'s'",
        "SELECT @v",
        "SELECT /*+ hint */ 1",
        "SELECT /* outer /* inner */ */ 1",
        "SELECT 1--x",
        "SELECT 10days",
    ],
)
def test_layout_sensitive_or_unknown_constructs_give_no_key(text):
    assert layout_free_key(text) is None


def test_the_header_is_part_of_the_key():
    assert layout_free_key(BASE, "dialect=postgres") != layout_free_key(BASE, "")
