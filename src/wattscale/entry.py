"""The console entry point: Ctrl-C ends any command with one line and exit code 130, even during start-up."""
from __future__ import annotations

import signal
import sys

INTERRUPTED_EXIT_CODE = 130
_interrupted = False


def _on_interrupt(signum, frame) -> None:
    global _interrupted
    if not _interrupted:
        _interrupted = True
        sys.stderr.write("\ninterrupted: unfinished results were not written\n")
        sys.stderr.flush()
    raise KeyboardInterrupt


def main() -> None:  # pragma: no cover - exercised through the installed script in tests
    signal.signal(signal.SIGINT, _on_interrupt)
    try:
        from wattscale.cli import app

        app()
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED_EXIT_CODE)
    except (SystemError, SystemExit):  # compiled kernels turn an interrupt into SystemError; typer exits itself
        if _interrupted:
            sys.exit(INTERRUPTED_EXIT_CODE)
        raise
