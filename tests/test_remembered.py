"""Results remembered on disk (remember_on_disk): computed once per course, kept by every worker."""
import json
import multiprocessing

from autograder.judge import remember_on_disk


def _remember_many(args):
    cache, first = args
    for number in range(first, first + 20):
        remember_on_disk("squares", f"n={number}", lambda: number * number, near=__file__, cache_dir=cache)


def test_workers_writing_at_once_lose_none_of_each_others_results(tmp_path):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_remember_many, [(tmp_path, first) for first in (0, 20, 40, 60)])
    computed = []
    for number in range(80):  # every result is found: none is computed again
        value = remember_on_disk("squares", f"n={number}", lambda: computed.append(number), near=__file__,
                                 cache_dir=tmp_path)
        assert value == number * number
    assert computed == []


def test_results_kept_in_one_file_before_are_still_found(tmp_path):
    (tmp_path / "claims.json").write_text(json.dumps({"[300] lr=0.005": [0.0004, 0.2]}))
    value = remember_on_disk("claims", "[300] lr=0.005", lambda: 1 / 0, near=__file__, cache_dir=tmp_path)
    assert value == [0.0004, 0.2] and not (tmp_path / "claims.json").exists()


def test_results_are_kept_in_the_course_of_the_lesson(tmp_path):
    course = tmp_path / "course"
    (course / "lessons" / "week_1").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("")
    graders = course / "lessons" / "week_1" / "test_week_1.py"
    assert remember_on_disk("answers", "k", lambda: 7, near=graders) == 7
    assert len(list((course / ".autograder" / "cache" / "answers").glob("*.json"))) == 1
