"""Executors: where the attempts of a run happen.

Every executor runs the same plan through the same scheduler
(:mod:`assets_core.executors.scheduler`): decisions (early cutoff, failed or
blocked upstreams), checks, publication and records are identical; only the
place an asset function runs differs.

- ``inprocess`` (default): in the run's own process, one asset at a time.
- ``processes`` (``assets materialize --workers N``): N local worker processes; an
  asset starts the moment its upstreams are published. A timed-out attempt's
  worker is killed and replaced.
- ``dask`` (``--executor dask [--dask-address tcp://host:8786]``): a Dask cluster,
  a ``LocalCluster`` unless an address is given. Dask is imported only here.

Values move through the stores, never through pipes or the Dask scheduler: a
worker reads its inputs from the store and writes its value there staged; the
run's process publishes it by recording it in the catalog.
"""

from __future__ import annotations

from typing import Any

EXECUTORS = ("inprocess", "processes", "dask")


def make_backend(
    name: str = "inprocess", *, workers: int | None = None, dask_address: str | None = None
) -> Any:
    """The backend called ``name`` (see the module doc); ``workers`` sizes the pool."""
    from assets_core.errors import AssetsError

    if name == "inprocess":
        from assets_core.executors.inprocess import InProcess

        return InProcess()
    if name == "processes":
        from assets_core.executors.processes import WorkerProcesses

        return WorkerProcesses(workers or 2)
    if name == "dask":
        from assets_core.executors.dask_cluster import DaskCluster

        return DaskCluster(address=dask_address, workers=workers)
    raise AssetsError(
        f"unknown executor {name!r}",
        hint="use one of: " + ", ".join(EXECUTORS),
    )
