"""Options of ``assets materialize`` that choose where assets run."""

from __future__ import annotations

from typing import Any

import click

from assets_core.errors import AssetsError

_OPTIONS = (
    click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Run assets in N local worker processes (ready assets start at once).",
    ),
    click.option(
        "--executor",
        type=click.Choice(["inprocess", "processes", "dask"]),
        default=None,
        help="Where assets run: this process (default), local worker processes "
        "(with --workers), or a Dask cluster.",
    ),
    click.option(
        "--dask-address",
        default=None,
        metavar="ADDR",
        help="Dask scheduler to use, e.g. tcp://scheduler:8786 (default: a LocalCluster).",
    ),
    click.option(
        "--wait/--no-wait",
        default=True,
        show_default=True,
        help="When another run is materializing an asset: wait for it, or skip the asset "
        "(in_progress_elsewhere).",
    ),
)


def executor_options(f: Any) -> Any:
    for opt in reversed(_OPTIONS):
        f = opt(f)
    return f


def backend_from_options(
    *, workers: int | None, executor: str | None, dask_address: str | None, wait: bool
) -> Any:
    """The backend the options ask for (see :mod:`assets_core.executors`)."""
    from assets_core.executors import make_backend

    if executor is None:
        if dask_address:
            executor = "dask"
        elif workers and workers > 1:
            executor = "processes"
        else:
            executor = "inprocess"
    if dask_address and executor != "dask":
        raise AssetsError(
            f"--dask-address needs --executor dask (not {executor})",
            hint="assets materialize --executor dask --dask-address tcp://host:8786",
        )
    if executor == "inprocess" and workers and workers > 1:
        raise AssetsError(
            "--workers runs assets in worker processes, which --executor inprocess excludes",
            hint="drop --executor, or use --executor processes",
        )
    return make_backend(executor, workers=workers, dask_address=dask_address)
