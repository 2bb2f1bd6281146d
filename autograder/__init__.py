"""Auto-grader for the PyTorch course."""
