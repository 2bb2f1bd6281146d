"""The hostile-protocol boundary: every malformed, misplaced or oversized message is a violation, and
every string that passes is safe text."""
import json
import os

import pytest

from autograder.protocol import JobProtocol, LineReader, ProtocolViolation, StepEnd


def line(**message) -> bytes:
    return json.dumps(message).encode()


def started(steps=("cell-0", "cell-1")) -> JobProtocol:
    protocol = JobProtocol("j1", list(steps), output_cap=100, output_total=150)
    assert protocol.accept(line(type="ready", job="j1")) == ("ready", None)
    assert protocol.accept(line(type="start", job="j1", id=steps[0])) == ("start", steps[0])
    return protocol


def test_a_well_formed_job_is_accepted_and_its_text_made_safe():
    protocol = started()
    kind, end = protocol.accept(line(type="end", job="j1", id="cell-0", status="error", seconds=0.5, output="x\x1b[31m",
                                     error={"ename": "RuntimeError", "evalue": "\ud800 [/]"}, data={"k\x00": ["\udfff"]}))
    assert kind == "end" and isinstance(end, StepEnd)
    assert end.output == "x\\x1b[31m" and end.error["evalue"] == "\ufffd [/]" and end.data == {"k\\x00": ["\ufffd"]}
    protocol.accept(line(type="start", job="j1", id="cell-1"))
    protocol.accept(line(type="end", job="j1", id="cell-1", status="ok", seconds=1))
    assert protocol.accept(line(type="done", job="j1")) == ("done", None)


@pytest.mark.parametrize("message", [
    {"type": "end", "job": "j1", "id": "cell-0", "status": "ok", "seconds": "not-a-number"},  # issue 14, item 1
    {"type": "end", "job": "j1", "id": "cell-0", "status": "ok", "seconds": float("nan")},
    {"type": "end", "job": "j1", "id": "cell-0", "status": "ok", "seconds": 1, "cpu_seconds": -1},
    {"type": "end", "job": "j1", "id": "cell-0", "status": "passed", "seconds": 1},
    {"type": "end", "job": "j1", "id": "cell-0", "status": "ok", "seconds": 1, "error": "text"},
    {"type": "end", "job": "j1", "id": "cell-0", "status": "ok", "seconds": 1, "output": 5},
    {"type": "end", "job": "j1", "id": "cell-1", "status": "ok", "seconds": 1},  # not the step that started
    {"type": "end", "job": "other", "id": "cell-0", "status": "ok", "seconds": 1},  # another job's
    {"type": "done", "job": "j1"},  # a forged "done" before every step ended (issue 14, item 3)
    {"type": "start", "job": "j1", "id": "cell-1"},
    {"type": "ready", "job": "j1"},
    {"type": "shout", "job": "j1"},
])
def test_a_message_that_does_not_fit_is_a_violation(message):
    with pytest.raises(ProtocolViolation):
        started().accept(line(**message))


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"{" * 100_000 + b"}" * 100_000, b'"text"'])
def test_unreadable_lines_are_violations(raw):
    with pytest.raises(ProtocolViolation):
        started().accept(raw)


def test_probe_data_nested_too_deeply_is_a_violation():
    deep = {"type": "end", "job": "j1", "id": "cell-0", "status": "ok", "seconds": 1, "data": []}
    for _ in range(200):
        deep["data"] = [deep["data"]]
    with pytest.raises(ProtocolViolation):
        started().accept(json.dumps(deep).encode())


def test_output_is_capped_per_step_and_per_job():
    protocol = started(("a", "b", "c"))
    _, first = protocol.accept(line(type="end", job="j1", id="a", status="ok", seconds=0, output="x" * 1000))
    assert first.output.startswith("x" * 100) and len(first.output) < 200
    protocol.accept(line(type="start", job="j1", id="b"))
    _, second = protocol.accept(line(type="end", job="j1", id="b", status="ok", seconds=0, output="y" * 100))
    assert second.output.startswith("y" * 10) and "total output cap" in second.output
    protocol.accept(line(type="start", job="j1", id="c"))
    _, third = protocol.accept(line(type="end", job="j1", id="c", status="ok", seconds=0, output="z" * 100))
    assert third.output == ""


def read_all(data: bytes, **bounds) -> list[bytes]:
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    reader = LineReader(read_end, **bounds)
    lines, view = [], memoryview(data)
    try:
        while True:
            if view:
                try:
                    view = view[os.write(write_end, view):]
                except BlockingIOError:
                    pass
                if not view:
                    os.close(write_end)
            reader.fill()
            while (got := reader.next_line()) is not None:
                lines.append(got)
            if reader.eof:
                return lines
    finally:
        reader.close()


def test_blank_lines_are_skipped_without_recursion():  # issue 14, item 2: 5,000 blank lines crashed grading
    assert read_all(b"\n" * 200_000 + b'{"type": "ready"}\n') == [b'{"type": "ready"}']


def test_a_line_or_a_job_over_its_bound_is_a_violation():
    with pytest.raises(ProtocolViolation):
        read_all(b"x" * 5000, max_line=1000)
    with pytest.raises(ProtocolViolation):
        read_all(b"x" * 5000 + b"\n", max_line=1000)
    with pytest.raises(ProtocolViolation):
        read_all(b"{}\n" * 5000, max_total=10_000)
