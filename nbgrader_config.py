"""nbgrader settings for the course; the repository root is the nbgrader course directory.

nbgrader's own commands run this course's engine (autograder/nbgrader_engine.py): `nbgrader autograde` and
formgrader's Autograde button grade in the bubblewrap sandbox with the hidden graders, `nbgrader validate`
runs the public checks in the sandbox, generate_feedback gives students nothing internal."""
import os
import sys

c = get_config()  # noqa: F821 (provided by nbgrader)
ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "pytorch-course"
c.CourseDirectory.db_url = f"sqlite:///{ROOT}/gradebook.db"
# reference weights live beside the source notebook for validation; they must never be released
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.pth", "result.json"]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.enforce_metadata = True

# Student code never runs outside the sandbox. These hold even if the engine below cannot be imported (an
# nbgrader from another environment): nbgrader's own execution names a kernel that does not exist, and its
# autograde step is named, not imported, so without the engine every submission fails loudly instead of
# being run unsandboxed.
c.Execute.kernel_name = "nbgrader-execution-is-off-in-this-course--student-code-runs-only-in-the-autograder-sandbox"
c.Autograde.sanitize_preprocessors = []
c.Autograde.autograde_preprocessors = ["autograder.nbgrader_engine.SandboxedAutograde"]
try:
    from autograder.nbgrader_engine import configure
except ImportError as exc:
    print(f"nbgrader_config.py: the autograder engine cannot be imported ({exc}); nbgrader autograde and validate "
          "fail here. Use the course's environment: .venv/bin/nbgrader", file=sys.stderr)
else:
    configure(c, ROOT)

# Late penalties apply to the timestamps `autograder collect` records (or nbgrader's exchange), e.g.:
# c.LateSubmissionPlugin.penalty_method = "zero"
