"""Hidden graders, one package per lesson. Never mounted into the sandbox."""
