"""The console entry point: Ctrl-C ends any command with one line and exit code 130, even during start-up."""
from __future__ import annotations

import signal
import sys

from wattscale.guards import interrupted, note_interrupt, stop_if_interrupted

INTERRUPTED_EXIT_CODE = 130
_started = False  # until the command line is imported, an interrupt is only noted (raising inside the import
#                   machinery is ignored by Python, with a traceback); main() acts on it right after


def _on_interrupt(signum, frame) -> None:
    note_interrupt()
    if _started:
        raise KeyboardInterrupt


def main() -> None:  # pragma: no cover - exercised through the installed script in tests
    global _started
    signal.signal(signal.SIGINT, _on_interrupt)
    try:
        from wattscale.cli import app

        _started = True
        stop_if_interrupted()
        app()
        stop_if_interrupted()
    except KeyboardInterrupt:
        _stopped()
    except (SystemError, SystemExit):  # compiled kernels turn an interrupt into SystemError; typer exits itself
        if interrupted():
            _stopped()
        raise


def _stopped() -> None:
    sys.stderr.write("interrupted: nothing unfinished was written\n")
    sys.stderr.flush()
    sys.exit(INTERRUPTED_EXIT_CODE)


if __name__ == "__main__":
    main()
