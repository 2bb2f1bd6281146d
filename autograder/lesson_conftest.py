"""The conftest every course's lessons/ folder imports: hidden graders get their fixtures (student, reference,
hidden, grading) and hooks from the autograder plugin.

Run as plain pytest (`pytest lessons/LESSON`), the graders judge the lesson's own source notebook, executed in
the sandbox: instructors check their graders like any test suite. Run by the engine, they judge the submission
it hands over (pytest_plugin.ProvidedSession)."""
from functools import cache

import pytest

from autograder.pytest_plugin import *  # noqa: F401,F403  (fixtures and hooks must be module globals here)
from autograder.pytest_plugin import GRADING, GradingSession, pytest_runtest_makereport  # noqa: F401
from autograder.pytest_plugin import pytest_configure as _plugin_configure


def pytest_configure(config: pytest.Config) -> None:
    _plugin_configure(config)
    if GRADING not in config.stash:  # plain pytest: nobody handed over a submission
        config.stash[GRADING] = judge_source_notebook


@cache
def judge_source_notebook(lesson: str) -> GradingSession:
    """Return the grading session of the lesson's source notebook, run in the sandbox now."""
    from autograder.config import load_config
    from autograder.course import get_lesson
    from autograder.grade import grading_session, probe_submission

    config = load_config()
    return grading_session(probe_submission(get_lesson(config.course_root, lesson).source_notebook, config,
                                            lesson=lesson), config)
