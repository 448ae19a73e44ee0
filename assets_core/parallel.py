"""Pure-Python work on a second core: a forked child computes, the parent goes on.

Loading a project is CPU-bound Python (parsing and fingerprinting functions, parsing
SQL with sqlglot), which threads cannot spread over cores. On Linux a child forked
from the loading process already holds the project's modules and functions, so it
can compute part of the work and send back plain values through a pipe:

- :func:`in_two` splits a list of items: the child takes the second half while the
  parent computes the first (a cold load of a thousand functions), or all of them
  when the parent has work registered with :func:`meanwhile`.
- :func:`background` starts the child and returns at once; the parent meanwhile runs
  the work registered with :func:`meanwhile` (``assets materialize`` imports the
  catalog's and the warehouse's libraries while the child imports sqlglot and parses
  the SQL that changed).

A child is forked only when it is safe and worth it: on Linux, from a process
running a single thread (a thread holding a lock at the fork would leave it held in
the child; so a project whose modules import NumPy, pandas or Polars, which start
threads, loads in one process), and for enough work. Otherwise, or when the child
fails for any reason, the parent computes the same values itself: the results never
depend on it. The child writes nothing but its pickled result, and ends with
``os._exit``: no ``atexit`` handler, buffered output or open connection of the parent
is touched.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_MEANWHILE: list[Callable[[], Any]] = []


def can_fork() -> bool:
    """May this process fork a child to compute in (see the module's docstring)?

    Not with ``ASSETS_NO_FORK=1`` in the environment, nor with a single core to use.
    """
    return (
        sys.platform == "linux"
        and hasattr(os, "fork")
        and os.environ.get("ASSETS_NO_FORK", "") in ("", "0")
        and _python_threads() == 1
        and _os_threads() == 1
        and len(os.sched_getaffinity(0)) > 1
    )


def _python_threads() -> int:
    """Threads started through ``threading`` (none if it was never imported)."""
    threading = sys.modules.get("threading")
    return threading.active_count() if threading is not None else 1


def _os_threads() -> int:
    """Threads of this process, as the OS counts them: also those a library started
    (NumPy's BLAS, Polars' pool), which Python's ``threading`` does not know."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 2  # unknown: as if another thread ran


class Pending(Generic[R]):
    """A value being computed by :func:`background`; :meth:`result` waits for it."""

    def __init__(self, work: Callable[[], R], pid: int | None, fd: int | None) -> None:
        self._work = work
        self._pid = pid
        self._fd = fd

    @property
    def forked(self) -> bool:
        """Is a child computing it (False: :meth:`result` computes it here)?"""
        return self._pid is not None

    def result(self) -> R:
        """The value: read from the child, or computed here if there is none or it failed.

        The work registered with :func:`meanwhile` runs first, while the child computes.
        """
        pid, fd = self._pid, self._fd
        if pid is None or fd is None:
            return self._work()
        try:
            _run_meanwhile()
            with os.fdopen(fd, "rb") as f:
                self._fd = None  # closed with f
                data = f.read()
            _, status = os.waitpid(pid, 0)
            self._pid = None
        except BaseException:  # interrupted: the child must not outlive the parent
            self.cancel()
            raise
        if status != 0 or not data:
            return self._work()
        try:
            return pickle.loads(data)  # type: ignore[no-any-return]
        except Exception:
            return self._work()

    def cancel(self) -> None:
        """Stop the child, if any, without waiting for its value."""
        pid, fd, self._pid, self._fd = self._pid, self._fd, None, None
        if fd is not None:
            os.close(fd)
        if pid is not None:
            import signal  # not at import: its enums cost a millisecond or two

            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


def background(work: Callable[[], R], *, fork: bool = True) -> Pending[R]:
    """Start computing ``work()`` in a forked child (when :func:`can_fork` and ``fork``).

    ``work`` must return a picklable value and must not touch resources the parent
    holds open (connections, locks); it runs again in the parent if the child fails.
    """
    if not (fork and can_fork()):
        return Pending(work, None, None)
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return Pending(work, None, None)
    if pid == 0:  # the child: compute, write, and leave without the parent's cleanups
        code = 1
        try:
            os.close(r)
            data = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(w, "wb") as f:
                f.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    return Pending(work, pid, r)


def in_two(
    work: Callable[[Sequence[T]], R], items: Sequence[T], *, min_items: int
) -> tuple[R, R | None]:
    """``work`` over the first half of ``items`` here and the second in a forked child.

    Returns both results, or ``(work(items), None)`` when ``items`` are fewer than
    ``min_items`` or no child may be forked. With work registered by :func:`meanwhile`
    (as long as a half, or longer), the child takes every item and this process does
    that work instead.
    """
    if len(items) < min_items or not can_fork():
        return work(items), None
    half = 0 if _MEANWHILE else len(items) // 2
    rest = items[half:]
    pending = background(lambda: work(rest))
    try:
        first = work(items[:half])
    except BaseException:  # the caller meets the error; the child's half is not needed
        pending.cancel()
        raise
    return first, pending.result()


@contextlib.contextmanager
def meanwhile(task: Callable[[], Any]) -> Iterator[None]:
    """Within this block, the first wait for a child (:meth:`Pending.result`) runs
    ``task`` first: work the caller needs next anyway, done while the child computes.
    An exception of ``task`` is not raised there: the caller meets it again later."""
    _MEANWHILE.append(task)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            _MEANWHILE.remove(task)


def meanwhile_pending() -> bool:
    """Is work registered with :func:`meanwhile` (so a child would save its time)?"""
    return bool(_MEANWHILE)


def _run_meanwhile() -> None:
    while _MEANWHILE:
        task = _MEANWHILE.pop()
        with contextlib.suppress(Exception):
            task()
