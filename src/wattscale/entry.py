"""The console entry point: Ctrl-C ends any command with one line and exit code 130, even during start-up."""
from __future__ import annotations

import signal
import sys

INTERRUPTED_EXIT_CODE = 130
_interrupted = False
_started = False  # until the command line is imported, an interrupt is only noted (raising inside the import
#                   machinery is ignored by Python, with a traceback); main() acts on it right after


def _on_interrupt(signum, frame) -> None:
    global _interrupted
    _interrupted = True
    if _started:
        from wattscale.guards import note_interrupt

        note_interrupt()
        raise KeyboardInterrupt


def main() -> None:  # pragma: no cover - exercised through the installed script in tests
    global _started
    signal.signal(signal.SIGINT, _on_interrupt)
    try:
        from wattscale.cli import app
        from wattscale.guards import note_interrupt, stop_if_interrupted

        _started = True
        if _interrupted:
            note_interrupt()
        stop_if_interrupted()
        app()
        stop_if_interrupted()
    except KeyboardInterrupt:
        _stopped()
    except (SystemError, SystemExit):  # compiled kernels turn an interrupt into SystemError; typer exits itself
        if _interrupted:
            _stopped()
        raise


def _stopped() -> None:
    sys.stderr.write("interrupted: nothing unfinished was written\n")
    sys.stderr.flush()
    sys.exit(INTERRUPTED_EXIT_CODE)
