"""Run a Great Expectations suite as an assets-core check.

An ephemeral GE context is created once per process; the frame is validated in
memory (polars frames are converted to pandas at this boundary only). GE's own
progress bars and logging do not reach our output.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from pathlib import Path
from typing import Any

from assets_core.checks.definition import CheckResult
from assets_core.errors import DefinitionError, MissingExtraError

_CONTEXT: dict[str, Any] = {}


def _gx() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    try:
        import great_expectations as gx
    except ImportError:
        raise MissingExtraError("great_expectations", "ge", "ge_suite checks") from None
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    return gx


def load_suite(suite: Any, root: Path | None = None) -> Any:
    """An ExpectationSuite from a JSON file path (relative to ``root``) or a suite object."""
    gx = _gx()
    from great_expectations.core.expectation_suite import ExpectationSuite

    if isinstance(suite, ExpectationSuite):
        return suite
    path = Path(suite)
    if not path.is_absolute() and root is not None:
        path = root / path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise DefinitionError(
            f"cannot read Great Expectations suite {path}: {e.strerror}",
            hint="give ge_suite() a path relative to the project folder",
        ) from None
    except ValueError as e:
        raise DefinitionError(f"{path} is not valid JSON: {e}") from None
    try:
        return ExpectationSuite(**data)
    except Exception as e:  # GE validates the suite and raises its own error types
        raise DefinitionError(f"{path} is not a valid expectation suite: {e}") from None
    finally:
        del gx


def _batch_definition() -> Any:
    if "batch" not in _CONTEXT:
        gx = _gx()
        ctx = gx.get_context(mode="ephemeral")
        ds = ctx.data_sources.add_pandas("assets_core")
        asset = ds.add_dataframe_asset(name="frame")
        _CONTEXT["context"] = ctx
        _CONTEXT["batch"] = asset.add_batch_definition_whole_dataframe("whole")
    return _CONTEXT["batch"]


def run_suite(suite: Any, df: Any, root: Path | None = None) -> CheckResult:
    """Validate ``df`` against ``suite``; one metadata entry per expectation."""
    the_suite = load_suite(suite, root)
    if type(df).__module__.startswith("polars"):
        df = df.to_pandas()
    sink = io.StringIO()
    with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": df})
        res = batch.validate(the_suite, result_format="SUMMARY")
    expectations = []
    failing = 0
    for r in res.results:
        cfg = r.expectation_config
        detail = r.result or {}
        unexpected = detail.get("unexpected_count")
        if not r.success and isinstance(unexpected, int):
            failing = max(failing, unexpected)
        expectations.append(
            {
                "expectation": cfg.type,
                "kwargs": {k: v for k, v in cfg.kwargs.items() if k != "batch_id"},
                "success": bool(r.success),
                "observed_value": _plain(detail.get("observed_value")),
                "unexpected_count": unexpected,
                "partial_unexpected_list": [
                    _plain(v) for v in detail.get("partial_unexpected_list", [])
                ][:5],
            }
        )
    bad = [e["expectation"] for e in expectations if not e["success"]]
    return CheckResult(
        passed=bool(res.success),
        description=(f"{len(bad)} of {len(expectations)} expectations failed: " + ", ".join(bad))
        if bad
        else f"all {len(expectations)} expectations met",
        metadata={"expectations": expectations},
        failing_rows=failing,
    )


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return None if v != v else v
    return str(v)
