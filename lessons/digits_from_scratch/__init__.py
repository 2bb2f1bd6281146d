"""digits_from_scratch: spec.py declares the lesson, probes.py runs in the sandbox, test_digits_from_scratch.py judges (hidden)."""
