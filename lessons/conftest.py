"""Hidden graders get their fixtures and hooks from the autograder plugin (autograder/lesson_conftest.py)."""
from autograder.lesson_conftest import *  # noqa: F401,F403  (fixtures and hooks must be module globals here)
