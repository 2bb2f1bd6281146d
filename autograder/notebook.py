"""Read submitted notebooks defensively and find their exercises by nbgrader grade_id."""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

SKIP_TAG = "skip-grading"
MAX_NOTEBOOK_MB = 50


class NotebookError(Exception):
    """The file cannot be graded at all; `str()` is a one-line reason for the student."""


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: the answer cell's grade_id and the points of its test cell."""

    id: str
    points: float


def read_notebook(path: Path) -> NotebookNode:
    """Return the notebook at `path` as nbformat v4, or raise NotebookError saying why it is unusable."""
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_MB << 20:
        raise NotebookError(f"{path.name}: {size >> 20} MB is larger than the {MAX_NOTEBOOK_MB} MB a notebook may be")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise NotebookError(f"{path.name}: not a notebook (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{path.name}: not a notebook (invalid JSON at line {exc.lineno}: {exc.msg})") from None
    except RecursionError:  # json recurses per nesting level: a crafted file would crash the grader
        raise NotebookError(f"{path.name}: not a notebook (JSON nested too deeply)") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise NotebookError(f"{path.name}: JSON, but not a Jupyter notebook (no cells)")
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # nbformat raises several types for malformed notebooks
        raise NotebookError(f"{path.name}: not a readable notebook ({type(exc).__name__}: {str(exc)[:120]})") from None
    for index, cell in enumerate(nb.cells):
        if not isinstance(cell.get("source", ""), str) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise NotebookError(f"{path.name}: cell {index} is malformed")
    return nb


def nbgrader_meta(cell: NotebookNode) -> dict:
    """Return the cell's nbgrader metadata, or {} when it has none (or junk)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell: NotebookNode) -> str | None:
    """Return the cell's nbgrader grade_id, if any."""
    value = nbgrader_meta(cell).get("grade_id")
    return value if isinstance(value, str) else None


def find_exercises(released: NotebookNode) -> tuple[Exercise, ...]:
    """Return the exercises of a released notebook in order: each answer cell with its `test_<id>` points."""
    points = {grade_id(c): float(nbgrader_meta(c).get("points", 0)) for c in released.cells
              if nbgrader_meta(c).get("grade")}
    return tuple(Exercise(grade_id(c), points.get(f"test_{grade_id(c)}", 0.0)) for c in released.cells
                 if nbgrader_meta(c).get("solution") and grade_id(c) and f"test_{grade_id(c)}" in points)


def cell_index(nb: NotebookNode, wanted: str) -> int | None:
    """Return the index of the cell with grade_id `wanted`, or None."""
    return next((i for i, c in enumerate(nb.cells) if grade_id(c) == wanted), None)


def is_skipped(cell: NotebookNode, released_skip_ids: set[str]) -> bool:
    """Return True for cells not run at grading time (tagged in the submission or in the release)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return (isinstance(tags, list) and SKIP_TAG in tags) or cell.get("id") in released_skip_ids


def skip_ids(released: NotebookNode) -> set[str]:
    """Return the ids of the released notebook's cells tagged to skip at grading time."""
    return {c.get("id") for c in released.cells if SKIP_TAG in c.get("metadata", {}).get("tags", []) and c.get("id")}


def restore_locked_cells(submitted: NotebookNode, released: NotebookNode) -> tuple[NotebookNode, list[str]]:
    """Return the submission with every locked cell as released (edited or deleted ones put back), and notes."""
    nb = copy.deepcopy(submitted)
    notes = []
    for cell in released.cells:
        gid = grade_id(cell)
        if not (gid and nbgrader_meta(cell).get("locked")):
            continue
        at = cell_index(nb, gid)
        if at is not None:
            if nb.cells[at].source != cell.source:
                notes.append(f"locked cell `{gid}` was edited; the released version was used")
            nb.cells[at] = copy.deepcopy(cell)
            continue
        anchor = cell_index(nb, gid[len("test_"):]) if gid.startswith("test_") else None
        nb.cells.insert(len(nb.cells) if anchor is None else anchor + 1, copy.deepcopy(cell))
        notes.append(f"locked cell `{gid}` was missing; the released version was put back")
    return nb, notes


def lesson_of(nb: NotebookNode, lessons: dict[str, set[str]]) -> str | None:
    """Return the lesson a notebook belongs to: its metadata, else the lesson sharing most grade_ids."""
    named = nb.metadata.get("autograder", {}).get("lesson") if isinstance(nb.metadata.get("autograder"), dict) else None
    if named in lessons:
        return named
    ids = {grade_id(c) for c in nb.cells} - {None}
    overlap = {name: len(ids & wanted) for name, wanted in lessons.items()}
    best = max(overlap, key=overlap.get, default=None)
    return best if best and overlap[best] > 0 else None
