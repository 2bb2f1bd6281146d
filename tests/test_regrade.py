"""A regrade says what changed: first grades, a changed submission, a forced regrade that moves nothing,
and a dry run that writes nothing; hidden inputs come from the course secret, never from the run."""
import json
import subprocess
import sys

import nbformat
import pytest

from autograder.course import get_lesson
from autograder.democlass import make_course
from autograder.sandbox import bubblewrap_available
from autograder.seeds import SECRET_FILE
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot run here")


def submit(root, student: str, identity: str | None) -> None:
    """Submit the released notebook, with `identity_tensor` answered when given."""
    nb = nbformat.read(get_lesson(ROOT, "hands_on_dl").release_notebook, as_version=4)
    if identity:
        next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "identity_tensor").source = identity
    folder = root / "submitted" / student / "hands_on_dl"
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "hands_on_dl.ipynb")


def autograde(root, *options) -> str:
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "autograde", "hands_on_dl", "--workers", "1", *options],
                          cwd=root, capture_output=True, text=True, env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_regrade_says_what_changed(tmp_path):
    root = make_course(tmp_path / "course", ROOT)
    submit(root, "ann", None)
    submit(root, "ben", "I_tensor = torch.diag(torch.ones(3))")
    first = autograde(root)
    assert "grades changed this run (2 students)" in first and first.count("first grade") >= 2
    state = json.loads((root / "autograded/ann/hands_on_dl/result.json").read_text())
    assert state["graders"] and state["run_seed"] is None and (root / SECRET_FILE).stat().st_mode & 0o077 == 0
    seeds = {s: json.loads((root / f"autograded/{s}/hands_on_dl/result.json").read_text())["result"]["seed"] for s in ("ann", "ben")}
    assert seeds["ann"] != seeds["ben"]

    forced = autograde(root, "--force")
    assert "no grade changed since the last run" in forced
    assert {s: json.loads((root / f"autograded/{s}/hands_on_dl/result.json").read_text())["result"]["seed"]
            for s in ("ann", "ben")} == seeds  # the same hidden inputs on every run

    submit(root, "ann", "I_tensor = torch.eye(3)")
    before = (root / "autograded/ann/hands_on_dl/result.json").read_bytes()
    dry = autograde(root, "--dry-run")
    assert "submission changed" in dry and "identity_tensor" in dry and "ben" not in dry.split("grades changed")[1]
    assert "nothing was written" in dry
    assert (root / "autograded/ann/hands_on_dl/result.json").read_bytes() == before
