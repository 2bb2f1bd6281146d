"""neurons_and_training: spec.py declares the lesson, probes.py runs in the sandbox, test_neurons_and_training.py judges (hidden)."""
