"""The pytest side of grading: fixtures that hand hidden graders the student's probe data and the
reference's, and a report hook that turns each test into a scored, student-safe record.

Whoever starts the pytest run says what is judged, by putting a `SessionSource` in the config's stash
under `GRADING` before the tests run: the engine hands over one submission's probe records (`ProvidedSession`);
the graders' own conftest, run as plain pytest, grades the lesson's source notebook. Nothing here calls
back into the engine: data flows one way, from the probes to the judge."""
from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .judge import EXERCISE_MARK, CannotJudge, GradingFailure

UNREADABLE = "This check could not read your answer: it has an unexpected type or structure."


class ReferenceProbeError(CannotJudge):
    """The reference solution itself could not be probed: an instructor's problem, never a student's."""


@dataclass
class GradingSession:
    """The data one grading run shares between tests: seed, hidden inputs, student probe records."""

    lesson: str
    seed: int
    inputs: dict
    records: dict  # exercise -> {"status", "data", "message"}
    course_root: Path
    _reference: dict = field(default_factory=dict)

    @property
    def lesson_spec(self):
        """Return the lesson's declared LessonSpec."""
        from .course import Lesson

        return Lesson(self.lesson, self.course_root).spec

    def held_out_labels(self, exercise: str):
        """Return the held-out labels the spec declares for `exercise` (read here, never in the sandbox)."""
        from .config import load_config
        from .judge import read_labels

        return read_labels(load_config(self.course_root).data_root / self.lesson_spec.held_out[exercise].labels)

    def reference(self, exercise: str):
        """Return the reference probe data for `exercise`, computed here in the trusted process."""
        if exercise not in self._reference:
            import torch

            from .course import Lesson

            lesson = Lesson(self.lesson, self.course_root)
            solutions, probes = lesson.solutions(), lesson.probes()
            try:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(0)  # as in the sandbox
                    self._reference[exercise] = getattr(probes, f"probe_{exercise}")(
                        vars(solutions), **self.inputs.get(exercise, {}))
            except Exception as exc:
                raise ReferenceProbeError(f"probing solutions/{self.lesson}.py for {exercise} failed: {exc!r}") from exc
        return self._reference[exercise]


SessionSource = Callable[[str], GradingSession]  # lesson name -> the session its graders judge
GRADING = pytest.StashKey[SessionSource]()


@dataclass(frozen=True)
class ProvidedSession:
    """A pytest plugin object handing the graders one submission's grading session."""

    session: GradingSession

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[GRADING] = lambda lesson: self.session


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{EXERCISE_MARK}(name, weight=1.0): the exercise a hidden test grades")


def exercise_of(item: pytest.Item) -> tuple[str, float]:
    """Return the exercise a test grades and its weight, from its mark."""
    mark = item.get_closest_marker(EXERCISE_MARK)
    if mark is None:
        raise pytest.UsageError(f"{item.nodeid} has no @exercise(...) mark")
    return mark.args[0], float(mark.kwargs.get("weight", 1.0))


@pytest.fixture(scope="module")
def grading(request: pytest.FixtureRequest) -> GradingSession:
    """Return the grading session of this module's lesson, from the run's session source."""
    source = request.config.stash.get(GRADING, None)
    if source is None:
        raise pytest.UsageError("nothing to judge: run the graders through `autograder grade`, or as plain pytest "
                                "with the graders' conftest")
    return source(Path(request.module.__file__).parent.name)  # lessons/<lesson>/test_<lesson>.py


@pytest.fixture
def student(request: pytest.FixtureRequest, grading: GradingSession):
    """Return the student's probe data for this test's exercise (skips when the probe produced none)."""
    name, _ = exercise_of(request.node)
    record = grading.records.get(name, {"status": "missing"})
    if record["status"] != "ok":
        pytest.skip(f"no probe data for {name}: {record['status']}")
    return record["data"]


@pytest.fixture
def reference(request: pytest.FixtureRequest, grading: GradingSession):
    """Return the reference solution's probe data for this test's exercise, on the same hidden inputs."""
    return grading.reference(exercise_of(request.node)[0])


@pytest.fixture
def hidden(request: pytest.FixtureRequest, grading: GradingSession) -> dict:
    """Return the hidden inputs this run drew for this test's exercise."""
    return grading.inputs.get(exercise_of(request.node)[0], {})


@pytest.fixture
def held_out_labels(request: pytest.FixtureRequest, grading: GradingSession):
    """Return the held-out labels of this test's exercise, as the lesson's spec declares them."""
    return grading.held_out_labels(exercise_of(request.node)[0])


@pytest.fixture
def threshold(request: pytest.FixtureRequest, grading: GradingSession) -> float:
    """Return the pass mark the lesson's spec declares for this test's exercise (spec.thresholds)."""
    return grading.lesson_spec.thresholds[exercise_of(request.node)[0]]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if call.when == "call" or (call.when == "setup" and report.outcome != "passed"):
        name, weight = exercise_of(item)
        feedback, detail, internal = "", "", False
        if call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception):
            if call.excinfo.errisinstance(GradingFailure):
                feedback = str(call.excinfo.value).split("\n")[0]
            elif call.excinfo.errisinstance(CannotJudge):
                internal = True
                detail = str(call.excinfo.value)
            else:
                feedback = UNREADABLE
                detail = "".join(traceback.format_exception(call.excinfo.value))[-3000:]
        report.user_properties += [("exercise", name), ("weight", weight), ("feedback", feedback), ("detail", detail),
                                   ("internal", internal)]
    return report


@dataclass
class OutcomeCollector:
    """A pytest plugin object collecting (exercise, weight, outcome, feedback, detail) per test."""

    records: list[dict] = field(default_factory=list)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "exercise" in props and not any(r["nodeid"] == report.nodeid for r in self.records):
            self.records.append({"nodeid": report.nodeid, "outcome": report.outcome, **props})
