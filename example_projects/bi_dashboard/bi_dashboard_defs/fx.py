"""Currency conversion used by the staging assets (a helper module, not an asset)."""

from __future__ import annotations

import pandas as pd


def usd_per_unit() -> dict[str, float]:
    """The fixed rates finance reports with: US dollars per unit of each currency."""
    return {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}


def to_usd(amount: pd.Series, currency: pd.Series) -> pd.Series:
    """``amount`` in US dollars, rounded to cents; an unknown currency is an error."""
    rates = usd_per_unit()
    unknown = sorted(set(currency.unique()) - set(rates))
    if unknown:
        raise ValueError(f"no USD rate for {unknown}: add it to fx.usd_per_unit()")
    return (amount * currency.map(rates)).round(2)
