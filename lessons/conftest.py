"""Hidden graders get their fixtures (student, reference, hidden, grading) from the autograder plugin."""
from autograder.pytest_plugin import *  # noqa: F401,F403  (fixtures and hooks must be module globals here)
from autograder.pytest_plugin import pytest_addoption, pytest_configure, pytest_runtest_makereport  # noqa: F401
