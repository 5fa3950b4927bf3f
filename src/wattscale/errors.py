"""User-facing errors: one clear message naming the file, the field and what was expected."""
from __future__ import annotations


class WattscaleError(Exception):
    """Base class for errors caused by user input (shown without a traceback, exit code 2)."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 expected: str | None = None) -> None:
        self.file = str(file) if file is not None else None
        self.field = field
        self.expected = expected
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.field:
            where.append(f"field '{self.field}'")
        head = ": ".join([", ".join(where), self.detail]) if where else self.detail
        if self.expected:
            head += f" (expected {self.expected})"
        return _printable(head)


def _printable(text: str) -> str:
    """``text`` with control characters (terminal escape codes from a file or a name) shown escaped, as ``\x1b``;
    line breaks are kept (a message listing several problems has one per line)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == "\n" else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


class ScenarioError(WattscaleError):
    """The scenario file is malformed or inconsistent."""


class DataError(WattscaleError):
    """A data file is missing, malformed or does not cover the timeline."""


class ResultsError(WattscaleError):
    """A results directory is missing or incomplete."""


class PlanningError(WattscaleError):
    """An optimisation cannot be solved: requirements that cannot all be met, or no solver."""


class NetworkError(WattscaleError):
    """A network cannot be built, solved or switched as asked (names the element and what was expected)."""


class MarketError(WattscaleError):
    """An order, a bid curve or a market setting is invalid (names the participant and what was expected)."""


class LedgerError(WattscaleError):
    """A ledger file is not a ledger, fails verification, or an entry was refused (nothing already stored is lost)."""


class ForecastError(WattscaleError):
    """A forecaster cannot be fitted or asked as given: too little history, gaps, a horizon beyond the data, or a
    missing optional library."""
