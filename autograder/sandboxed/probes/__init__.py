"""Probes: plain functions run on the student's namespace that return plain data, never a verdict.
One module per lesson, named after it; `probe_<exercise>(ns, **inputs)` per exercise."""
