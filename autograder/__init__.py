"""Auto-grader for the PyTorch course."""
import sys

# jsonschema (imported by nbformat) loads `rfc3987_syntax` when it is installed (an extra that
# jupyter-events pulls in), and that module builds an IRI parser at import: 2 s of every grading
# worker's and every command's start. Nothing here validates IRIs, so autograder processes skip it.
sys.modules.setdefault("rfc3987_syntax", None)
