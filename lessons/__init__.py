"""The course's lessons, one folder each (spec, probes, hidden graders, mutants, calibration).

Trusted code: only lessons/<lesson>/probes.py is ever mounted in a sandbox, and nothing here is released."""
