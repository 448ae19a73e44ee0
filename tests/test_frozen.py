"""``frozen.built``: a frozen dataclass made in one step, as its constructor makes it."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from assets_core.catalog.catalog import Record
from assets_core.frozen import built


def _fields(**over: object) -> dict[str, object]:
    fields: dict[str, object] = {f.name: None for f in dataclasses.fields(Record)}
    fields.update(run_id="r1", key="bi/roas", status="success", checks=(), **over)
    return fields


def test_built_equals_the_constructor_and_stays_frozen() -> None:
    rec = built(Record, _fields(data_version="d1", input_versions={"a": "v"}))
    assert rec == Record(**_fields(data_version="d1", input_versions={"a": "v"}))
    assert dataclasses.replace(rec, status="failed").status == "failed"
    assert copy.copy(rec) == rec
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.status = "failed"  # type: ignore[misc]


def test_built_refuses_missing_and_unknown_fields() -> None:
    fields = _fields()
    del fields["error"]
    with pytest.raises(TypeError, match=r"Record: missing \['error'\], unknown \[\]"):
        built(Record, fields)
    with pytest.raises(TypeError, match=r"unknown \['colour'\]"):
        built(Record, _fields(colour="red"))
