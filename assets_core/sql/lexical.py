"""A SQL file's tokens without its layout: the key that lets a comment or whitespace
edit reuse the file's parse without importing sqlglot.

:func:`layout_free_key` splits the text into literals, quoted identifiers, words,
numbers, operators and punctuation, drops comments and whitespace, and hashes the
rest. Two texts with the same key differ only in comments and in whitespace
between tokens, which never changes what a query means, so the cached semantic
fingerprint (tables, fingerprint) of one is the other's too.

It is deliberately narrow: any character or construct whose meaning could depend
on layout or on a dialect's lexer (``$`` dollar quotes and parameters, backticks,
``#`` comments, brackets, backslash escapes, ``@``/``?`` markers, optimizer hints,
nested comments, a literal with a prefix such as ``N'..'`` or ``E'..'``, ``--``
not followed by a space) gives no key, and the file is parsed as usual. A
keyword-case or quoting change also gives another key: the full parse then
decides, as it always did.
"""

from __future__ import annotations

import re

from assets_core.code_version import digest

_TOKEN = re.compile(
    r"""
     (?P<str>'(?:[^']|'')*')
    |(?P<qid>"(?:[^"]|"")*")
    |(?P<lc>--[^\n]*)
    |(?P<bc>/\*.*?\*/)
    |(?P<ws>\s+)
    |(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<word>[^\W\d]\w*(?:\.[^\W\d]\w*)*)
    |(?P<op>[<>=!|&+*/%^~:-]+)
    |(?P<punct>[(),;.])
    """,
    re.VERBOSE | re.DOTALL,
)
_LAYOUT = frozenset({"lc", "bc", "ws"})


def layout_free_key(text: str, header: str = "") -> str | None:
    """A digest of ``text``'s tokens (and its header values), or None when unsure."""
    tokens: list[str] = []
    prev = ""  # kind of the token just before, "" after a comment or whitespace
    last = ""  # kind of the last token that is not layout
    pos, end = 0, len(text)
    match = _TOKEN.match
    while pos < end:
        m = match(text, pos)
        if m is None:  # a character this lexer does not vouch for
            return None
        kind = m.lastgroup or ""
        tok = m.group()
        pos = m.end()
        if kind == "lc":
            if len(tok) > 2 and tok[2] not in " \t-":
                return None
        elif kind == "bc":
            if tok[2:3] in ("!", "+") or "/*" in tok[2:]:
                return None
        elif kind == "op":
            if "--" in tok or "/*" in tok or "*/" in tok:
                return None
        elif kind in ("str", "qid"):
            # a prefixed literal (N'..', E'..', U&"..") or literals that a newline joins
            if prev in ("word", "num") or (kind == "str" and last == "str"):
                return None
        elif kind in ("word", "num") and prev in ("str", "qid", "word", "num"):
            return None  # 10days, 'a'b: tokens that layout could split or join
        if kind in _LAYOUT:
            prev = ""
            continue
        tokens.append(tok)
        prev = last = kind
    return digest(header + "\0" + "\x1f".join(tokens))
