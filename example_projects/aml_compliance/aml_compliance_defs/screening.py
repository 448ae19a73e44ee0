"""Name screening against the sanctions list (a helper module, not an asset)."""

from __future__ import annotations

import re

import pandas as pd

_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")


def normalize_name(name: str) -> str:
    """Upper case, punctuation and repeated spaces removed: 'Volkov Trading, LLC' -> 'VOLKOV TRADING LLC'."""
    return " ".join(_NOT_ALNUM.sub(" ", name.upper()).split())


def watchlist(sanctions: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Normalized name -> (entry id, the listed name or alias it came from)."""
    out: dict[str, tuple[str, str]] = {}
    for row in sanctions.itertuples(index=False):
        for listed in (row.name, *row.aliases):
            out.setdefault(normalize_name(listed), (row.entry_id, listed))
    return out
