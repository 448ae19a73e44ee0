"""The default backend: every attempt runs in the run's own process, one at a time.

Values produced in the run stay in memory for the steps that read them; a
``timeout`` interrupts the asset function with SIGALRM (Python code stops at its
next bytecode; a long call into C code stops when it returns).
"""

from __future__ import annotations

from typing import Any

from assets_core.executors.attempt import Outcome, Task, run_attempt


class InProcess:
    name = "inprocess"
    in_memory = True  # values produced in the run are handed on in memory

    def __init__(self) -> None:
        self._run: Any = None
        self._done: list[tuple[Outcome, Any]] = []

    def start(self, run: Any) -> None:
        self._run = run

    def free(self) -> int:
        return 0 if self._done else 1

    def submit(self, task: Task) -> None:
        run = self._run
        self._done.append(run_attempt(run.project, task, run.load, run.store, alarm=True))

    def wait(self, timeout: float | None) -> list[tuple[Outcome, Any]]:
        done, self._done = self._done, []
        return done

    def began(self, key: str) -> float | None:
        return None  # timeouts here are SIGALRM's, not the scheduler's

    def kill(self, key: str) -> bool:
        return False  # attempts here end by themselves (SIGALRM enforces timeouts)

    def close(self) -> None:
        self._run = None
