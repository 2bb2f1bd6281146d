"""Each step's time budget, derived from the reference's own time for that step.

`autograder validate` runs the reference notebook once without budgets and records every step's CPU
seconds (lessons/<lesson>/cell_times.json). At grading time a step gets `cell_cpu_multiple` times its
reference's CPU time, at least `cell_cpu_floor` seconds, and a wall-clock backstop of `cell_wall_multiple`
times that, at least `cell_wall_floor` seconds, both at most `cell_timeout`. CPU time, not wall time, is
what stops an endless loop, so a budget does not shrink when the machine is loaded (a grade must not
move with load); the wall backstop only catches a cell that waits without computing. A step the
reference has no time for (a cell the student added, a lesson never validated) gets `cell_timeout`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from .config import Limits
from .notebook import grade_id

RECHECK_FACTOR = 3.0  # a reference step now this much slower than recorded makes the record stale (fresh
# clones measured one data-loading step at 2.3-4.7x its quiet CPU time, cause unknown: the budget keeps 10x)
ABOUT = ("CPU seconds the reference notebook takes per step (a cell by grade_id or cell id, a probe as "
         "probe:<exercise>), recorded by `autograder validate`; each step's time budget is derived from it")


@dataclass(frozen=True)
class StepBudget:
    """How long one step may run: CPU seconds (None: no CPU limit) and wall seconds."""

    cpu: float | None
    wall: float


def cell_key(cell: NotebookNode) -> str:
    """Return the name a cell's time is recorded under: its grade_id, else its nbformat cell id ("" if none)."""
    return grade_id(cell) or str(cell.get("id") or "")


def probe_key(exercise: str) -> str:
    """Return the name an exercise's probe time is recorded under."""
    return f"probe:{exercise}"


def read_cell_times(path: Path) -> dict[str, float]:
    """Return the recorded reference CPU seconds per step; empty when none were recorded (or unreadable)."""
    try:
        seconds = json.loads(Path(path).read_text())["cpu_seconds"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(seconds, dict):
        return {}
    return {str(k): float(v) for k, v in seconds.items() if isinstance(v, (int, float)) and v >= 0}


def write_cell_times(path: Path, seconds: dict[str, float]) -> None:
    """Write the reference's CPU seconds per step (sorted, so a re-record diffs cleanly)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"about": ABOUT, "cpu_seconds": {k: round(v, 3) for k, v in sorted(seconds.items())}}
    path.write_text(json.dumps(data, indent=1) + "\n")


def budget_for(key: str, times: dict[str, float], limits: Limits) -> StepBudget:
    """Return the budget of the step recorded under `key` (the cell timeout when the reference has no time)."""
    if not key or key not in times:
        return StepBudget(None, limits.cell_timeout)
    cpu = min(max(limits.cell_cpu_floor, limits.cell_cpu_multiple * times[key]), limits.cell_timeout)
    wall = min(max(limits.cell_wall_floor, limits.cell_wall_multiple * cpu), limits.cell_timeout)
    return StepBudget(cpu, max(wall, cpu))


def stale_steps(recorded: dict[str, float], measured: dict[str, float], limits: Limits) -> list[str]:
    """Return the steps whose record no longer fits the reference: new, gone, or now much slower with a budget
    that would grow (a step under the floor keeps the floor: its time varying with load changes nothing)."""
    changed = sorted(set(recorded) ^ set(measured))
    slower = sorted(k for k in set(recorded) & set(measured) if measured[k] > RECHECK_FACTOR * recorded[k] + 0.1
                    and budget_for(k, measured, limits) != budget_for(k, recorded, limits))
    return changed + slower


def recheck_cell_times(path: Path, measured: dict[str, float] | None, limits: Limits) -> str:
    """Compare the reference's CPU seconds just measured with the record at `path`: record them if there is
    no record or it is stale; return what was done, in one line for `validate`'s report."""
    if not measured:
        return "step budgets not rechecked: the reference could not be measured"
    recorded = read_cell_times(path)
    stale = stale_steps(recorded, measured, limits) if recorded else []
    if recorded and not stale:
        slowest = max(measured, key=measured.get)
        return (f"step budgets hold: {len(measured)} steps as recorded (slowest {slowest}: "
                f"{measured[slowest]:.2f} s of CPU)")
    write_cell_times(path, measured)
    if not recorded:
        return f"step budgets recorded for {len(measured)} steps in {path.name}"
    return f"step budgets re-recorded: {len(stale)} steps changed or slower ({', '.join(stale[:3])})"
