"""ml_fundamentals: spec.py declares the lesson, probes.py runs in the sandbox, test_ml_fundamentals.py judges (hidden)."""
