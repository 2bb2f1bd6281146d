"""A grading worker's start-up, measured in one run: the first grade of a fresh process, and what each
import it pays costs.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 3] [--lesson hands_on_dl]

First grade: a fresh Python process (as a grading worker is) starts the lesson's warm sandbox while the
judge imports torch, the reference and the probes (start_sandbox), then grades the light hands_on_dl
submission (bench_overhead.py); printed split into sandbox start and the grade itself, medians.
Imports: what each import adds, timed in sequence in a fresh interpreter, in the order the sandbox
preloads them (torch, then torch._dynamo, which a notebook's first optimiser would otherwise import in
every job, torchvision, numpy, matplotlib.pyplot, then IPython's shell, which the runner builds) and the judge imports them (the autograder package first, which keeps jsonschema from building
an IRI parser; nbformat, pytest, the engine, torch, the lesson's probes and graders); `python -X importtime -c "import M"` shows any one of them in detail. A bare interpreter start
is the baseline. Runs interleaved, medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SANDBOX_IMPORTS = ("torch", "torch._dynamo", "torchvision", "numpy", "matplotlib.pyplot",  # the preload's
                   "IPython.core.interactiveshell")  # (dynamo comes with torch: a first optimiser imports it)
JUDGE_IMPORTS = ("autograder", "nbformat", "pytest", "autograder.grade", "torch", "lessons.hands_on_dl.probes",
                 "lessons.hands_on_dl.test_hands_on_dl")

FIRST_GRADE = r"""
import json, sys, time
started = time.perf_counter()
from pathlib import Path
from autograder.config import load_config
from autograder.course import get_lesson
from autograder.grade import grade_submission, start_sandbox
imported = time.perf_counter()
config = load_config(Path(sys.argv[1]))
lesson = get_lesson(config.course_root, sys.argv[2])
start_sandbox(lesson, config)
ready = time.perf_counter()
result = grade_submission(Path(sys.argv[3]), config, lesson=sys.argv[2], seed=1)
done = time.perf_counter()
print(json.dumps({"engine imports": imported - started, "sandbox start (judge imports meanwhile)": ready - imported,
                  "first grade": done - ready, "total": done - started, "score": result.score}))
"""


IMPORT_SEQUENCE = r"""
import json, sys, time
import importlib
costs = {}
for module in sys.argv[1:]:
    started = time.perf_counter()
    importlib.import_module(module)
    costs[module] = time.perf_counter() - started
print(json.dumps(costs))
"""


def import_costs(modules: tuple[str, ...]) -> dict[str, float]:
    """Return what each import adds, in the order given, in one fresh interpreter (as the sandbox's
    preload or the judge's warm-up imports them: a module already pulled in by an earlier one is free)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-c", IMPORT_SEQUENCE, *modules], env=env, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def bare_start() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def first_grade(lesson: str, notebook: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", FIRST_GRADE, str(ROOT), lesson, str(notebook)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lesson", default="hands_on_dl")
    args = parser.parse_args()
    from autograder.config import load_config
    from autograder.course import get_lesson
    from bench_overhead import submissions

    lesson = get_lesson(load_config(ROOT).course_root, args.lesson)
    imports: dict[str, list[float]] = {"(bare interpreter)": []}
    firsts = []
    with tempfile.TemporaryDirectory() as tmp:
        light = submissions(lesson, Path(tmp))["light"] if args.lesson == "hands_on_dl" else lesson.source_notebook
        for _ in range(args.repeat):
            imports["(bare interpreter)"].append(bare_start())
            for side in (SANDBOX_IMPORTS, JUDGE_IMPORTS):
                for module, seconds in import_costs(side).items():
                    imports.setdefault(f"{'sandbox' if side is SANDBOX_IMPORTS else 'judge'}:{module}", []).append(seconds)
            firsts.append(first_grade(args.lesson, light))
    load = os.getloadavg()
    print(f"worker start-up for {args.lesson}, median of {args.repeat} (load average {load[0]:.1f} on "
          f"{os.cpu_count()} cores)")
    for key in firsts[0]:
        if key != "score":
            print(f"  {key:<42} {statistics.median(f[key] for f in firsts):6.2f} s")
    print("what each import adds, in the order the sandbox's preload and the judge's warm-up import them "
          "(one fresh interpreter per side):")
    for key, seconds in imports.items():
        side, _, module = key.rpartition(":")
        print(f"  {side:<8} {module:<42} {statistics.median(seconds):6.2f} s")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "benchmarks"))
    main()
