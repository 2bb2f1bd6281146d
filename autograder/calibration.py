"""Calibrating randomness: a lesson's tolerances measured on the reference across seeds, kept in
lessons/<lesson>/calibration.json (made by lessons/<lesson>/calibrate.py, read by its graders)."""
from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path


@cache
def calibration_of(module_file: str) -> dict:
    """Return the calibration of the lesson a module belongs to: lessons/<lesson>/calibration.json beside it."""
    return json.loads((Path(module_file).parent / "calibration.json").read_text())


def calibration_json(result: dict) -> str:
    """Return a calibration as indented JSON with every list of numbers on one line (diffs stay readable)."""
    text = json.dumps(result, indent=1)
    return re.sub(r"\[\s+([^][{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"
