"""hands_on_dl: spec.py declares the lesson, probes.py runs in the sandbox, test_hands_on_dl.py judges (hidden)."""
