"""Guards against hostile or careless input.

- ``excerpt``: a short, printable quotation of user or file text for error messages (never a whole file, never
  raw control characters or terminal escape codes);
- the memory a run needs, estimated from the scenario before anything is allocated, and refused above a limit
  (``WATTSCALE_MAX_MEMORY_GB`` or ``--max-memory-gb``; default 80 % of the machine's memory);
- numbers given on the command line: finite, positive, within a range;
- paths: a symbolic-link loop or a folder where a file is expected is named as such.
"""
from __future__ import annotations

import errno
import math
import os
import re
from pathlib import Path

from wattscale.errors import ScenarioError, WattscaleError

#: a scenario or network YAML file larger than this is refused before it is parsed
MAX_YAML_BYTES = 1_000_000

MEMORY_ENV = "WATTSCALE_MAX_MEMORY_GB"
GB = 1e9

# Peak memory (resident set), rounded up from measurements: `wattscale run examples/llm-campus.yaml` (one site, 4
# generators, 2 workloads, with its report) peaks at 0.56 GB over 105,120 steps and 1.1 GB over 525,600 (1 min
# steps), about 1,300 bytes per step (estimated here: 1,520); `wattscale swings` of the same site peaks at 1.0 GB
# for 3 million samples, about 180 bytes per sample (estimated: 208). The simulation and swing study are covered;
# optimisation (MPC, sizing, market) adds its solver's memory on top.
FIXED_BYTES = 0.6 * GB  # the interpreter with numpy, pandas, pvlib, numba and plotly loaded
STEP_BYTES_PER_SITE = 8 * 110  # ~110 float columns per step and site (inputs, state, results, report)
STEP_BYTES_PER_GENERATOR = 8 * 8
STEP_BYTES_PER_WORKLOAD = 8 * 24
SAMPLE_BYTES = 48  # the swing waveform, its spectrum and ramps, per sample
SAMPLE_BYTES_PER_WORKLOAD = 80  # each workload's phase mix per sample

_override_gb: float | None = None
_interrupted = False


def note_interrupt() -> None:
    """Remember that the user asked to stop (Ctrl-C), for the places that must not go on afterwards."""
    global _interrupted
    _interrupted = True


def interrupted() -> bool:
    """Whether the user asked to stop."""
    return _interrupted


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt if the user asked to stop, even when Python dropped the first one (an interrupt
    that lands inside the import machinery is ignored there)."""
    if _interrupted:
        raise KeyboardInterrupt

#: a market participant's name (a ledger identity): letters, digits, '_', '.', '-', starting with a letter or digit
PARTICIPANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PARTICIPANT_NAME_RULE = "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"


def excerpt(value, limit: int = 60) -> str:
    """At most ``limit`` printable characters of ``value``: control characters and escape codes shown escaped
    (``\\x1b``), the rest cut with an ellipsis."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="backslashreplace")
    text = (value if isinstance(value, str) else str(value)).strip()
    out, size = [], 0
    for ch in text[: limit * 4]:
        piece = ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
        if size + len(piece) > limit:
            return "".join(out) + "…"
        out.append(piece)
        size += len(piece)
    return "".join(out) + ("…" if len(text) > limit * 4 else "")


def excerpts(values, limit: int = 8, each: int = 30) -> str:
    """A comma-separated excerpt of at most ``limit`` items (column names, element names ...)."""
    values = list(values)
    shown = ", ".join(excerpt(v, each) for v in values[:limit])
    return shown + (f", … ({len(values) - limit} more)" if len(values) > limit else "")


# ---------------------------------------------------------------- memory
def set_memory_limit(gb: float | None) -> None:
    """Override the memory limit for this process (the command line's ``--max-memory-gb``)."""
    global _override_gb
    if gb is not None:
        check_number(gb, "--max-memory-gb", low=0.0, high=1e6)
    _override_gb = gb


def memory_limit() -> tuple[float, str]:
    """The memory limit in bytes and where it comes from."""
    if _override_gb is not None:
        return _override_gb * GB, "--max-memory-gb"
    text = os.environ.get(MEMORY_ENV)
    if text:
        try:
            gb = float(text)
        except ValueError:
            gb = float("nan")
        if not (math.isfinite(gb) and gb > 0):
            raise WattscaleError(f"cannot read {MEMORY_ENV}={excerpt(text, 30)!s}", file="environment",
                                 field=MEMORY_ENV, expected="a positive number of gigabytes, e.g. 32")
        return gb * GB, MEMORY_ENV
    return 0.8 * _physical_memory(), "80 % of this machine's memory"


def _physical_memory() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not a POSIX system
        return 8 * GB


def run_bytes(n_steps: int, sites: list[tuple[int, int]]) -> float:
    """Estimated peak memory of simulating ``n_steps`` for sites given as (generators, workloads)."""
    per_step = sum(STEP_BYTES_PER_SITE + g * STEP_BYTES_PER_GENERATOR + w * STEP_BYTES_PER_WORKLOAD for g, w in sites)
    return FIXED_BYTES + float(n_steps) * per_step


def swing_bytes(n_samples: int, n_workloads: int) -> float:
    """Estimated peak memory of a swing study of ``n_samples`` samples of ``n_workloads`` workloads."""
    return FIXED_BYTES + float(n_samples) * (SAMPLE_BYTES + SAMPLE_BYTES_PER_WORKLOAD * max(1, n_workloads))


def check_memory(need: float, *, what: str, field: str, file: str | None, shorten: str) -> None:
    """Refuse a run whose estimated peak memory ``need`` (bytes) is above the limit, before allocating it."""
    limit, source = memory_limit()
    if need > limit:
        raise ScenarioError(f"{what} needs about {_gb(need)} of memory, above the limit of {_gb(limit)} ({source})",
                            file=file, field=field,
                            expected=f"{shorten}; or raise the limit with --max-memory-gb or {MEMORY_ENV}")


def _gb(n: float) -> str:
    return f"{n / GB:,.1f} GB" if n < 1e14 else f"{n / GB:.2e} GB"


# ---------------------------------------------------------------- command-line numbers
def check_number(value, name: str, *, low: float = 0.0, high: float | None = None, low_inclusive: bool = False,
                 integer: bool = False) -> float:
    """``value`` if it is a finite number above ``low`` (or equal, if inclusive) and at most ``high``."""
    bad = (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
           or value < low or (value == low and not low_inclusive) or (high is not None and value > high)
           or (integer and value != int(value)))
    if bad:
        rng = f"{'at least' if low_inclusive else 'above'} {low:g}" + (f" and at most {high:g}" if high else "")
        kind = "a whole number" if integer else "a finite number"
        raise WattscaleError(f"{name} is {excerpt(value, 30)}", field=name, expected=f"{kind} {rng}")
    return value


# ---------------------------------------------------------------- paths
def path_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as a file (None if it can be opened): not found, a link loop, a folder ..."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a loop of symbolic links"
        if exc.errno == errno.EACCES:
            return "cannot be read (permission denied)"
        if exc.errno == errno.ENAMETOOLONG:
            return "has a name too long for the file system"
        return "not found"
    except ValueError:  # an embedded NUL byte
        return "is not a valid path"
    import stat

    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a device, pipe or socket)"
    return None


def safe_resolve(path: Path) -> Path:
    """``path`` made absolute and normalised; symbolic links are resolved where they resolve (a loop is left for
    the reader to report, instead of raising here)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError, ValueError):
        return Path(os.path.abspath(path))
