"""The hostile-protocol boundary: every byte that comes out of a sandbox is read here, and nowhere else.

A job's messages arrive as JSON lines on a pipe of its own. `LineReader` splits them without recursion
and with bounded line and total sizes; `parse_line` turns one line into a JSON object (no exception but
`ProtocolViolation` escapes); `JobProtocol` checks each message against its schema (types, ranges,
sizes), its job id and its place in the conversation (ready, then start/end for each planned step in
order, then done), and makes every string safe text. Any violation ends the job: the caller kills the
sandbox that carried it and never reuses it."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

from .text import safe_text

MAX_LINE_BYTES = 8 << 20  # one message: the largest probe data is well under 1 MB
MAX_JOB_BYTES = 64 << 20  # everything one job may send
MAX_DEPTH = 64  # nesting of probe data
STEP_STATUSES = ("ok", "error", "interrupted", "timeout", "missing")


class ProtocolViolation(Exception):
    """A message from the sandbox broke the protocol: the notebook interfered with the grader."""


class LineReader:
    """Splits a pipe's bytes into lines: bounded line length and total, never recursive."""

    def __init__(self, fd: int, max_line: int = MAX_LINE_BYTES, max_total: int = MAX_JOB_BYTES):
        self.fd, self.max_line, self.max_total = fd, max_line, max_total
        self.buffer, self.total, self.eof = bytearray(), 0, False

    def fileno(self) -> int:
        return self.fd

    def fill(self) -> None:
        """Read what the pipe holds now (call when it is readable); raise ProtocolViolation past a bound."""
        try:
            chunk = os.read(self.fd, 1 << 20)
        except BlockingIOError:
            return
        self.eof = not chunk
        self.total += len(chunk)
        self.buffer += chunk
        if self.total > self.max_total:
            raise ProtocolViolation(f"it sent more than {self.max_total >> 20} MB of messages")
        if b"\n" not in self.buffer and len(self.buffer) > self.max_line:
            raise ProtocolViolation(f"it sent a message longer than {self.max_line >> 20} MB")

    def next_line(self) -> bytes | None:
        """Return the next complete non-blank line, or None when none is buffered."""
        while (end := self.buffer.find(b"\n")) >= 0:
            line = bytes(self.buffer[:end])
            del self.buffer[:end + 1]
            if len(line) > self.max_line:
                raise ProtocolViolation(f"it sent a message longer than {self.max_line >> 20} MB")
            if line.strip():
                return line
        return None

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


def parse_line(line: bytes) -> dict:
    """Return one JSON-object line; raise ProtocolViolation for anything else."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        raise ProtocolViolation("it sent an unreadable message") from None
    if not isinstance(message, dict):
        raise ProtocolViolation("it sent a message that is not an object")
    return message


def safe_data(value, depth: int = 0):
    """Return probe data with every string made safe text; raise ProtocolViolation if too deep or odd."""
    if depth > MAX_DEPTH:
        raise ProtocolViolation("it sent data nested too deeply")
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value  # NaN and infinities are legitimate answers, judged as such
    if isinstance(value, str):
        return safe_text(value, 1 << 20)
    if isinstance(value, list):
        return [safe_data(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {safe_text(k, 1000): safe_data(v, depth + 1) for k, v in value.items()}
    raise ProtocolViolation("it sent data of an unknown kind")


def _text(message: dict, key: str, limit: int) -> str:
    value = message.get(key, "")
    if not isinstance(value, str):
        raise ProtocolViolation(f"its `{key}` is not text")
    return safe_text(value, limit)


def _number(message: dict, key: str) -> float:
    value = message.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ProtocolViolation(f"its `{key}` is not a non-negative number")
    return float(value)


def _error(message: dict) -> dict:
    error = message.get("error", {})
    if not isinstance(error, dict):
        raise ProtocolViolation("its `error` is not an object")
    return {key: _text(error, key, 1000) for key in ("ename", "evalue", "summary") if key in error}


@dataclass(frozen=True)
class StepEnd:
    """A step's end as the runner reported it, every field checked and safe."""

    id: object  # the planned step's id, as the caller gave it (never read back from the message)
    status: str
    seconds: float
    output: str = ""
    error: dict = field(default_factory=dict)
    message: str = ""
    data: object = None
    cpu_seconds: float = 0.0


@dataclass
class JobProtocol:
    """The conversation one job must follow: ready, then start/end per planned step in order, then done.
    `accept` returns ("ready" | "start" | "end" | "done" | "runner-error", payload) or raises. Step ids
    are any objects whose str() names them on the wire; payloads carry the planned object itself."""

    job_id: str
    step_ids: list
    output_cap: int = 65536  # characters kept per step
    output_total: int = 1 << 20  # characters kept over the whole job; later output is dropped
    state: str = "new"  # new -> ready -> (in-step <-> ready) -> done
    position: int = 0
    kept_output: int = 0
    dropped_output: bool = False

    def accept(self, line: bytes) -> tuple[str, object]:
        """Return the kind and payload of one message line; raise ProtocolViolation if it does not fit."""
        message = parse_line(line)
        if message.get("job") != self.job_id:
            raise ProtocolViolation("it sent a message that is not its job's")
        kind = message.get("type")
        if kind == "runner-error":
            return kind, _text(message, "summary", 2000)
        if kind == "ready" and self.state == "new":
            self.state = "ready"
            return kind, None
        if kind == "start" and self.state == "ready" and self.position < len(self.step_ids) \
                and message.get("id") == str(self.step_ids[self.position]):
            self.state = "in-step"
            return kind, self.step_ids[self.position]
        if kind == "end" and self.state == "in-step" and message.get("id") == str(self.step_ids[self.position]):
            self.state = "ready"
            self.position += 1
            return kind, self._end(message, self.step_ids[self.position - 1])
        if kind == "done" and self.state == "ready" and self.position == len(self.step_ids):
            self.state = "done"
            return kind, None
        raise ProtocolViolation(f"it sent an unexpected {safe_text(kind, 40)!r} message")

    def _end(self, message: dict, step_id: object) -> StepEnd:
        status = message.get("status")
        if status not in STEP_STATUSES:
            raise ProtocolViolation("it sent a step end with an unknown status")
        output = _text(message, "output", self.output_cap)
        room = max(self.output_total - self.kept_output, 0)
        if len(output) > room:
            note = "" if self.dropped_output else "\n[output dropped: the notebook's total output cap was reached]"
            output, self.dropped_output = output[:room] + note, True
        self.kept_output += len(output)
        return StepEnd(step_id, status, _number(message, "seconds"), output, _error(message),
                       _text(message, "message", 1000), safe_data(message.get("data")), _number(message, "cpu_seconds"))
