"""Grading on a Dask cluster: same grades and gradebook as local workers; a worker lost mid-batch only
means its submissions are retried elsewhere."""
import os
import shutil
import signal
import threading
import time

import pytest

from autograder.autograde import autograde, result_path
from autograder.config import load_config
from autograder.course import get_lesson
from autograder.democlass import make_course
from autograder.gradebook import recorded_scores
from tests.conftest import ROOT, make_submission

distributed = pytest.importorskip("distributed")


def small_class(root, count: int) -> list[str]:
    """Put `count` submissions into submitted/: alternately the reference and an untouched release."""
    lesson = get_lesson(root, "hands_on_dl")
    students = [f"s{i:02d}" for i in range(count)]
    for index, student in enumerate(students):
        folder = root / "submitted" / student / "hands_on_dl"
        if index % 2:
            folder.mkdir(parents=True)
            shutil.copyfile(lesson.release_notebook, folder / "hands_on_dl.ipynb")
        else:
            make_submission(lesson, folder)
    return students


def test_local_dask_cluster_grades_like_local_workers(tmp_path):
    root = make_course(tmp_path / "course", ROOT)
    students = small_class(root, 4)
    config = load_config(root)
    on_dask = {o.student: o.result for o in autograde(config, "hands_on_dl", workers=2, seed=11, scheduler="local")}
    assert all(r is not None for r in on_dask.values())
    assert [on_dask[s].score for s in students] == [24.0, 0.0, 24.0, 0.0]
    assert all(sum(recorded_scores(root, "hands_on_dl", s).values()) == on_dask[s].score for s in students)
    local = {o.student: o.result for o in autograde(config, "hands_on_dl", workers=1, seed=11, force=True)}
    assert {s: r.exercises for s, r in local.items()} == {s: r.exercises for s, r in on_dask.items()}


def test_a_dask_worker_killed_mid_batch_only_costs_a_retry(tmp_path):
    root = make_course(tmp_path / "course", ROOT)
    students = small_class(root, 8)
    config = load_config(root)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        victims = list(client.run(os.getpid).values())
        graded_at_kill = []

        def kill_one_worker_once_grading_runs():
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not list(root.glob("autograded/*/hands_on_dl/result.json")):
                time.sleep(0.2)
            os.kill(victims[0], signal.SIGKILL)
            graded_at_kill.append(len(list(root.glob("autograded/*/hands_on_dl/result.json"))))

        killer = threading.Thread(target=kill_one_worker_once_grading_runs)
        killer.start()
        outcomes = autograde(config, "hands_on_dl", seed=12, scheduler=cluster.scheduler_address)
        killer.join()
    assert graded_at_kill and graded_at_kill[0] < len(students), "the worker was not killed mid-batch"
    assert [o.action for o in outcomes] == ["graded"] * len(students)
    assert all(result_path(config, "hands_on_dl", s).is_file() for s in students)
    assert all(recorded_scores(root, "hands_on_dl", s) is not None for s in students)


def test_a_dask_worker_with_two_threads_grades_one_submission_at_a_time(tmp_path):
    root = make_course(tmp_path / "course", ROOT)
    students = small_class(root, 4)
    config = load_config(root)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, dashboard_address=None) as cluster:
        outcomes = autograde(config, "hands_on_dl", seed=13, scheduler=cluster.scheduler_address,
                             limits={"cell_timeout": 15, "notebook_timeout": 90})  # a collision fails fast
    results = {o.student: o.result for o in outcomes}
    assert [results[s].score if results[s] else None for s in students] == [24.0, 0.0, 24.0, 0.0]
    assert [results[s].timings["sandbox_runs"] for s in students] == [1] * 4  # nobody's run was disturbed
