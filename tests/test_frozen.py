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


def test_a_run_records_steps_with_exactly_the_record_fields(make_project, monkeypatch) -> None:
    """The run builds each step's Record with ``built``: every field by its name."""
    from assets_core.catalog.catalog import Catalog
    from assets_core.executor import execute, make_plan, open_catalog
    from assets_core.project import Project

    root = make_project(
        {
            "defs.py": """
            from assets_core import asset

            @asset
            def base():
                return 2

            @asset
            def doubled(base):
                return base * 2
            """
        }
    )
    seen: list[Record] = []
    record = Catalog.record

    def spy(self: Catalog, rec: Record) -> int | None:
        seen.append(rec)
        return record(self, rec)

    monkeypatch.setattr(Catalog, "record", spy)
    project = Project.load(root)
    catalog = open_catalog(project)
    try:
        result = execute(project, make_plan(project, catalog), catalog)
    finally:
        catalog.close()
    assert result.count("success") == 2
    names = {f.name for f in dataclasses.fields(Record)}
    assert [r.key for r in seen] == ["base", "doubled"]
    for rec in seen:
        assert set(vars(rec)) == names
        assert rec.status == "success" and rec.error is None and rec.data_version
    assert seen[1].input_versions == {"base": seen[0].data_version}
