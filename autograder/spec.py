"""What a lesson declares about itself: one typed LessonSpec, written in lessons/<lesson>/spec.py as `SPEC`
and checked when the course loads, so that every command reads the same facts instead of module
attributes found by convention.

A spec says which files a submission hands in (and which exercise needs which), what the sandbox imports
before any submission and which data files it may read, which held-out data only the judge reads, the
lesson's thresholds, and the function that draws each exercise's hidden inputs from a seed."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import MappingProxyType

SPEC_NAME = "SPEC"  # the name lessons/<lesson>/spec.py binds its LessonSpec to


class LessonSpecError(ValueError):
    """A lesson's spec is missing or wrong; the message names the lesson and the field."""

    def __init__(self, lesson: str, problem: str):
        super().__init__(f"lesson {lesson!r}: {problem} (in lessons/{lesson}/spec.py)")
        self.lesson, self.problem = lesson, problem


@dataclass(frozen=True)
class HeldOut:
    """A test split: images (mounted at /data/<images> when data_files lists them, else read by the judge
    alone) and labels only the judge reads."""

    images: str
    labels: str


@dataclass(frozen=True)
class LessonSpec:
    """One lesson's declared contract (every field but `hidden_inputs` has a default)."""

    hidden_inputs: Callable[[int], dict[str, dict]]  # seed -> {exercise: its hidden inputs}; secret, judge-side
    files_by_exercise: Mapping[str, str] = field(default_factory=dict)  # exercise -> file handed in beside the notebook
    preload: tuple[str, ...] = ("torch", "numpy")  # imported once by the warm sandbox, before any submission
    data_files: tuple[str, ...] = ()  # under the data root, readable in the sandbox at /data/<file>
    held_out: Mapping[str, HeldOut] = field(default_factory=dict)  # exercise -> its test split
    thresholds: Mapping[str, float] = field(default_factory=dict)  # named pass marks the graders read

    def __post_init__(self):
        for name in ("files_by_exercise", "held_out", "thresholds"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        object.__setattr__(self, "preload", tuple(self.preload))
        object.__setattr__(self, "data_files", tuple(self.data_files))

    @property
    def submitted_files(self) -> tuple[str, ...]:
        """Return the files a submission hands in beside its notebook, each once."""
        return tuple(dict.fromkeys(self.files_by_exercise.values()))

    def problems(self, exercises: set[str] | None = None) -> list[str]:
        """Return what is wrong with this spec (empty when it is sound); `exercises`, when known, are the
        lesson's exercise ids, which every per-exercise field must use."""
        found = []
        if not callable(self.hidden_inputs):
            found.append("hidden_inputs must be a function of a seed")
        for exercise, name in self.files_by_exercise.items():
            if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
                found.append(f"files_by_exercise[{exercise!r}] must be a plain file name, not {name!r}")
        splits = [h for h in self.held_out.values() if isinstance(h, HeldOut)]
        for name in [*self.data_files, *(h.images for h in splits), *(h.labels for h in splits)]:
            if not isinstance(name, str) or PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
                found.append(f"data file {name!r} must be a path under the data root")
        for exercise, split in self.held_out.items():
            if not isinstance(split, HeldOut):
                found.append(f"held_out[{exercise!r}] must be a HeldOut(images=..., labels=...)")
            elif split.labels in self.data_files:
                found.append(f"held_out[{exercise!r}].labels {split.labels!r} is in data_files: the sandbox "
                             "would read the answers")
        if not all(isinstance(m, str) and m for m in self.preload):
            found.append("preload must be module names")
        if not all(isinstance(v, (int, float)) for v in self.thresholds.values()):
            found.append("thresholds must be numbers")
        if exercises is not None:
            for name in ("files_by_exercise", "held_out"):
                unknown = sorted(set(getattr(self, name)) - exercises)
                if unknown:
                    found.append(f"{name} names {', '.join(unknown)}, not an exercise of the notebook")
        return found


def float32_values(array) -> list:
    """Return float32-exact values as nested lists: hidden inputs that survive JSON and torch.tensor unchanged."""
    import numpy as np

    return np.asarray(array, dtype=np.float32).astype(np.float64).tolist()


def checked_spec(lesson: str, module, exercises: set[str] | None = None) -> LessonSpec:
    """Return the LessonSpec `module` (lessons/<lesson>/spec.py) declares, or raise LessonSpecError."""
    spec = getattr(module, SPEC_NAME, None)
    if spec is None:
        raise LessonSpecError(lesson, f"no {SPEC_NAME} = LessonSpec(...)")
    if not isinstance(spec, LessonSpec):
        raise LessonSpecError(lesson, f"{SPEC_NAME} must be a LessonSpec(...), not {type(spec).__name__}")
    problems = spec.problems(exercises)
    if problems:
        raise LessonSpecError(lesson, "; ".join(problems))
    return spec
