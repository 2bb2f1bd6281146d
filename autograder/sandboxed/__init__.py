"""Code that runs inside the sandbox: the notebook runner and the probes. Nothing here is secret:
it is mounted read-only into every sandbox, while graders, solutions and labels never are."""
