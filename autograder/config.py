"""One typed configuration object for a course, read once from pyproject.toml [tool.autograder]."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to every sandboxed notebook run."""

    notebook_timeout: float = 300.0  # wall seconds for the whole notebook, probes included
    cell_timeout: float = 60.0  # wall seconds for one cell or one probe, at most (and where no budget is recorded)
    cell_cpu_multiple: float = 10.0  # a step's CPU budget: this many times the reference's CPU time for it ...
    cell_cpu_floor: float = 5.0  # ... and at least this many CPU seconds (autograder/budgets.py)
    cell_wall_multiple: float = 3.0  # a step's wall-clock backstop: this many times its CPU budget ...
    cell_wall_floor: float = 30.0  # ... and at least this many seconds
    grace: float = 5.0  # extra seconds before a cell that ignores the interrupt is killed
    memory_mb: int = 4096  # for the whole sandbox beyond its warm server (cgroup), and RLIMIT_DATA per process
    processes: int = 256  # for the whole sandbox (cgroup pids), and RLIMIT_NPROC for the sandbox user
    workdir_mb: int = 256  # size of the private writable work dir (tmpfs)
    output_kb: int = 64  # captured output kept per cell and per stream
    output_total_kb: int = 1024  # captured output kept over a whole notebook
    max_code_cells: int = 2000  # a notebook with more is not graded
    max_weight_file_mb: int = 64  # larger submitted files are refused
    threads: int = 1  # torch/OpenMP threads inside the sandbox (parallel workers share the cores)


@dataclass(frozen=True)
class Config:
    """Where the course lives and how grading runs."""

    course_root: Path
    data_root: Path
    limits: Limits = field(default_factory=Limits)
    allow_unsandboxed: bool = False  # only where bubblewrap cannot run; every result says so

    def with_limits(self, **changes) -> "Config":
        """Return a copy with some limits changed (None values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return replace(self, limits=replace(self.limits, **changes)) if changes else self


def find_course_root(start: Path | None = None) -> Path:
    """Return the nearest directory at or above `start` holding nbgrader_config.py."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "nbgrader_config.py").is_file():
            return candidate
    return Path(__file__).resolve().parent.parent


def load_config(course_root: Path | None = None) -> Config:
    """Return the course configuration from pyproject.toml, environment and defaults."""
    root = Path(course_root).resolve() if course_root else find_course_root()
    table: dict = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        table = tomllib.loads(pyproject.read_text()).get("tool", {}).get("autograder", {})
    limit_names = {f.name for f in fields(Limits)}
    limits = Limits(**{k: v for k, v in table.get("limits", {}).items() if k in limit_names})
    data_root = Path(os.environ.get("AUTOGRADER_DATA", root / table.get("data_root", "data")))
    return Config(course_root=root, data_root=data_root.resolve(), limits=limits,
                  allow_unsandboxed=bool(table.get("allow_unsandboxed", False)))


def ensure_tools_on_path() -> None:
    """Put this environment's bin/ first on PATH: nbgrader shells out to `alembic` by name."""
    bin_dir = str(Path(os.sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
