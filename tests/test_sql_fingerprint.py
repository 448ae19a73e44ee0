"""The semantic code version of SQL: formatting does not count, meaning does."""

from __future__ import annotations

import random

import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from assets_core.sql.parse import parse_query

CORPUS = [
    "SELECT a, b FROM t WHERE x = 1",
    "SELECT day, SUM(revenue) / NULLIF(SUM(spend), 0) AS roas FROM bi.journey o "
    "JOIN ads.spend s ON o.day = s.day AND o.channel = s.channel GROUP BY day",
    "WITH paid AS (SELECT * FROM bi.journey WHERE channel <> 'direct') "
    "SELECT channel, COUNT(*) AS n FROM paid GROUP BY channel HAVING COUNT(*) > 2 "
    "ORDER BY n DESC LIMIT 10",
    "SELECT o.id, c.name FROM orders o LEFT JOIN customers c ON c.id = o.customer_id "
    "WHERE o.amount BETWEEN 10 AND 100 AND c.country IN ('fr', 'de')",
    "SELECT id, CASE WHEN amount > 100 THEN 'big' ELSE 'small' END AS size, "
    "ROW_NUMBER() OVER (PARTITION BY customer ORDER BY day) AS rn FROM orders",
    "SELECT a FROM t1 UNION ALL SELECT b FROM t2 WHERE b IS NOT NULL",
    "SELECT COALESCE(x, 0) + 1 AS y FROM (SELECT x FROM s WHERE flag) AS sub",
]


def fp(sql: str, dialect: str = "duckdb") -> str:
    return parse_query(sql, dialect).fingerprint


# -- formatting-only rewrites --------------------------------------------------------------
def _outside_strings(sql: str, fn) -> str:
    """Apply ``fn(char, rng)`` to characters outside '...' literals."""
    out, in_str = [], False
    for ch in sql:
        if ch == "'":
            in_str = not in_str
            out.append(ch)
        else:
            out.append(ch if in_str else fn(ch))
    return "".join(out)


def rewrite(sql: str, how: str, seed: int) -> str:
    rng = random.Random(seed)
    tree = sqlglot.parse_one(sql, read="duckdb")
    if how == "pretty":
        return tree.sql(dialect="duckdb", pretty=True)
    if how == "compact":
        return tree.sql(dialect="duckdb")
    if how == "quoted":
        return tree.sql(dialect="duckdb", identify=True)
    if how == "case":
        return _outside_strings(sql, lambda c: c.upper() if rng.random() < 0.5 else c.lower())
    if how == "whitespace":
        return _outside_strings(
            sql, lambda c: rng.choice([" ", "\n  ", "\t", "   "]) if c == " " else c
        )
    if how == "comments":
        # after commas only: sqlglot keeps multi-word keywords (GROUP BY) whole
        text = _outside_strings(
            sql, lambda c: rng.choice([", /* note */", ", -- note\n", ","]) if c == "," else c
        )
        return f"-- header comment\n{text}\n-- trailing comment"
    raise ValueError(how)


@settings(max_examples=60, deadline=None)
@given(
    sql=st.sampled_from(CORPUS),
    hows=st.lists(
        st.sampled_from(["pretty", "compact", "quoted", "case", "whitespace", "comments"]),
        min_size=1,
        max_size=3,
    ),
    seed=st.integers(0, 2**16),
)
def test_formatting_only_rewrites_keep_the_fingerprint(sql, hows, seed):
    text = sql
    # comments go in last: reflowing whitespace afterwards would break a '-- line' comment
    hows = sorted(hows, key=lambda h: h == "comments")
    for i, how in enumerate(hows):
        text = rewrite(text, how, seed + i)
    assert fp(text) == fp(sql), text


# -- semantic mutations --------------------------------------------------------------------
def mutate(sql: str, kind: str, pick: int) -> str | None:
    tree = sqlglot.parse_one(sql, read="duckdb")
    if kind == "literal":
        nodes = list(tree.find_all(exp.Literal))
        if not nodes:
            return None
        node = nodes[pick % len(nodes)]
        new = (
            exp.Literal.string(node.this + "x")
            if node.is_string
            else exp.Literal.number(int(float(node.this)) + 7)
        )
        node.replace(new)
    elif kind == "column":
        nodes = list(tree.find_all(exp.Column))
        if not nodes:
            return None
        node = nodes[pick % len(nodes)]
        node.set("this", exp.to_identifier(node.name + "_other"))
    elif kind == "operator":
        nodes = [n for n in tree.find_all(exp.EQ, exp.GT, exp.NEQ, exp.Add)]
        if not nodes:
            return None
        node = nodes[pick % len(nodes)]
        swap = {exp.EQ: exp.NEQ, exp.GT: exp.GTE, exp.NEQ: exp.EQ, exp.Add: exp.Sub}
        node.replace(swap[type(node)](this=node.this.copy(), expression=node.expression.copy()))
    elif kind == "predicate":
        select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
        select.where("1 = 1" if pick % 2 else "TRUE", copy=False)
    elif kind == "join":
        joins = list(tree.find_all(exp.Join))
        if not joins:
            return None
        j = joins[pick % len(joins)]
        j.set("side", "RIGHT" if j.side == "LEFT" else "LEFT")
    return tree.sql(dialect="duckdb")


@settings(max_examples=80, deadline=None)
@given(
    sql=st.sampled_from(CORPUS),
    kind=st.sampled_from(["literal", "column", "operator", "predicate", "join"]),
    pick=st.integers(0, 50),
    how=st.sampled_from(["pretty", "case", "comments"]),
)
def test_semantic_mutations_change_the_fingerprint_even_when_reformatted(sql, kind, pick, how):
    mutated = mutate(sql, kind, pick)
    if mutated is None:  # this query has no such node: a mutation elsewhere is tested
        mutated = mutate(sql, "predicate", pick)
    assert fp(rewrite(mutated, how, pick)) != fp(sql)


# -- the layout-free key that lets a comment edit skip the parse -------------------------------
@settings(max_examples=80, deadline=None)
@given(
    sql=st.sampled_from(CORPUS),
    kind=st.sampled_from(["literal", "column", "operator", "predicate", "join", "none"]),
    pick=st.integers(0, 50),
    how=st.sampled_from(["pretty", "compact", "whitespace", "comments", "case", "quoted"]),
)
def test_texts_with_the_same_layout_free_key_have_the_same_fingerprint(sql, kind, pick, how):
    """The key may only be equal where the fingerprint is: a reused parse is never wrong."""
    from assets_core.sql.lexical import layout_free_key

    other = sql if kind == "none" else (mutate(sql, kind, pick) or sql)
    other = rewrite(other, how, pick)
    key = layout_free_key(sql)
    if key is not None and key == layout_free_key(other):
        assert fp(other) == fp(sql), other
    if kind == "none" and how in ("whitespace", "comments") and key is not None:
        assert layout_free_key(other) == key, other  # and layout edits do reuse it


# -- examples a reader can check by eye ------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("select a from t where x=1", "SELECT a\nFROM   t\nWHERE  x = 1 -- same"),
        ("SELECT a FROM t", 'SELECT "a" FROM "t"'),
        ("SELECT Amount FROM Orders", "select amount from orders"),
        ("SELECT a AS b FROM t", "SELECT a b FROM t"),
        ("SELECT a FROM t /* why */", "/* x */ SELECT a FROM t;"),
    ],
)
def test_same_meaning_same_fingerprint(a, b):
    assert fp(a) == fp(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("SELECT a FROM t WHERE x = 1", "SELECT a FROM t WHERE x = 2"),
        ("SELECT a FROM t WHERE x = 1", "SELECT a FROM t WHERE x > 1"),
        ("SELECT a FROM t", "SELECT b FROM t"),
        ("SELECT * FROM t JOIN u ON t.id = u.id", "SELECT * FROM t LEFT JOIN u ON t.id = u.id"),
        ("SELECT * FROM t JOIN u ON t.id = u.id", "SELECT * FROM t JOIN u ON t.id = u.tid"),
        ("SELECT 'EUR' AS c", "SELECT 'eur' AS c"),
    ],
)
def test_changed_predicate_column_join_or_literal_changes_the_fingerprint(a, b):
    assert fp(a) != fp(b)


def test_case_of_quoted_identifiers_counts_where_the_dialect_says_so():
    # PostgreSQL folds unquoted names to lower case but keeps quoted ones as written
    assert fp('SELECT "a" FROM t', "postgres") == fp("SELECT A FROM t", "postgres")
    assert fp('SELECT "A" FROM t', "postgres") != fp("SELECT A FROM t", "postgres")
    # DuckDB resolves every identifier case-insensitively
    assert fp('SELECT "A" FROM t', "duckdb") == fp("SELECT a FROM t", "duckdb")


def test_the_dialect_is_part_of_the_fingerprint():
    assert fp("SELECT a FROM t", "duckdb") != fp("SELECT a FROM t", "postgres")
