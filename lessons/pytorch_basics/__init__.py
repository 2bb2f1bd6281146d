"""pytorch_basics: spec.py declares the lesson, probes.py runs in the sandbox, test_pytorch_basics.py judges (hidden)."""
