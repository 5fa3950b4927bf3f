"""Results folders: written whole or not at all, and never replacing anything wattscale did not write.

A results folder holds a marker, ``.wattscale-results``, listing every file wattscale wrote into it. Only a
missing path, an empty folder, or a folder whose marker lists everything in it (nothing added by hand) may
be replaced. A folder is built in a hidden sibling ``.NAME.partial-PID-XXXX`` (every file and folder fsync-ed,
the marker last), then swapped in: the old folder is renamed to ``.NAME.old-PID`` and the new one into place.
A crash between the two renames leaves both hidden folders; the next write to NAME (or ``recover(NAME)``)
puts the newest complete one in place. Hidden folders of killed runs (their process gone) are removed.

The output path itself may not be a symbolic link: replacing it would either break the link or write where it
points, possibly outside the folder the user named. Links higher up the path are followed as usual.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path

from wattscale.errors import ResultsError
from wattscale.guards import excerpt, stop_if_interrupted

MARKER = ".wattscale-results"
MARKER_FORMAT = "wattscale-results"
MARKER_TMP = MARKER + ".tmp"  # the marker being rewritten (a growing folder)
PRIVATE_SUFFIX = ".pem"  # private keys: mode 0600 from the first byte, in 0700 folders
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
NAME_LIMIT = 100


def safe_folder_name(name: str, *, suffix: str = "") -> str:
    """A scenario name as one folder name: no separators, no leading dots, no control bytes, at most 100 chars."""
    cleaned = SAFE_NAME.sub("-", str(name)).strip("-.")[:NAME_LIMIT].rstrip("-.")
    return (cleaned or "scenario") + suffix


def default_outdir(name: str, suffix: str = "") -> Path:
    """``out/<safe name><suffix>``, always inside ``out`` of the working folder."""
    return Path("out") / safe_folder_name(name, suffix=suffix)


def write_folder(outdir: str | Path, files: dict[str, bytes | str]) -> Path:
    """Write ``files`` (relative path -> content) into ``outdir`` as a whole; returns the folder's absolute path.

    JSON files are stored as strict JSON (a non-finite number becomes null). Refused, before anything is
    written, when ``outdir`` is not replaceable (see the module's docstring)."""
    outdir = absolute(outdir)
    check_replaceable(outdir)
    contents = {name: _content(name, data, outdir) for name, data in files.items()}
    names = sorted(contents)
    for name in names:
        _check_relative(name, outdir)
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        recover(outdir)
        tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.partial-{os.getpid()}-", dir=outdir.parent))
    except OSError as exc:
        raise _unwritable(outdir, exc) from None
    try:
        private = any(n.endswith(PRIVATE_SUFFIX) for n in names)
        tmp.chmod(0o700 if private else 0o755)
        for name in names:
            _write_file(tmp / name, contents[name], private=name.endswith(PRIVATE_SUFFIX))
        _write_file(tmp / MARKER, json.dumps({"format": MARKER_FORMAT, "files": names}, indent=1).encode(),
                    private=False)
        _fsync_tree(tmp)
        stop_if_interrupted()  # the user asked to stop: the new results are not swapped in
        check_replaceable(outdir)  # again: another process may have written there meanwhile
        _swap_in(tmp, outdir)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _unwritable(outdir, exc) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return outdir


class GrowingFolder:
    """A results folder that grows as work finishes (a sweep's cases), under the same rules: opened only where
    ``write_folder`` could write; every file is listed in the marker before it is created, written beside its
    final name and renamed into place (``write``), or appended to with fsync (``append``). A crash leaves only
    complete files and, at worst, a listed ``.tmp`` file the next run replaces."""

    def __init__(self, outdir: str | Path) -> None:
        self.path = absolute(outdir)
        check_replaceable(self.path)
        try:
            recover(self.path)
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unwritable(self.path, exc) from None
        self.listed: set[str] = written_files(self.path) or set()
        if not (self.path / MARKER).exists():
            self._list(set())

    def exists(self, name: str) -> bool:
        return name in self.listed and (self.path / name).is_file()

    def clear(self) -> None:
        """Remove every file wattscale wrote here (and nothing else: ``check_replaceable`` allowed no other)."""
        for name in sorted(self.listed, reverse=True):
            (self.path / name).unlink(missing_ok=True)
        for root, dirs, _files in os.walk(self.path, topdown=False):
            for d in dirs:
                with contextlib.suppress(OSError):
                    (Path(root) / d).rmdir()  # only empty folders
        self.listed = set()
        self._list(set())

    def write(self, files: dict[str, bytes | str]) -> None:
        """Write (or replace) ``files``, each whole: JSON as strict JSON."""
        self._list(set(files) | {f"{name}.tmp" for name in files})
        for name, data in files.items():
            path, tmp = self.path / name, self.path / f"{name}.tmp"
            tmp.unlink(missing_ok=True)
            try:
                _write_file(tmp, _content(name, data, self.path), private=name.endswith(PRIVATE_SUFFIX))
                os.replace(tmp, path)
            except OSError as exc:
                raise _unwritable(self.path, exc) from None
        _fsync_dir(self.path)

    def append(self, name: str, text: str) -> None:
        """Add ``text`` at the end of ``name`` and fsync it (a journal of finished work)."""
        self._list({name})
        try:
            with open(self.path / name, "a", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise _unwritable(self.path, exc) from None

    def _list(self, names: set[str]) -> None:
        for name in names:
            _check_relative(name, self.path)
        if names <= self.listed and (self.path / MARKER).exists():
            return
        self.listed |= names
        data = json.dumps({"format": MARKER_FORMAT, "files": sorted(self.listed)}, indent=1).encode()
        tmp = self.path / MARKER_TMP
        try:
            tmp.unlink(missing_ok=True)
            _write_file(tmp, data, private=False)
            os.replace(tmp, self.path / MARKER)
        except OSError as exc:
            raise _unwritable(self.path, exc) from None


def absolute(path: str | Path) -> Path:
    """``path`` made absolute without following a link at its last part (``-o LINK`` is refused, not followed)."""
    path = Path(os.path.abspath(os.fspath(path)))
    try:
        return path.parent.resolve() / path.name
    except (OSError, RuntimeError) as exc:  # a loop of links above the folder
        raise ResultsError(f"cannot resolve the output path ({exc})", file=str(path),
                           expected="a folder path without a loop of symbolic links") from None


def check_replaceable(outdir: Path) -> None:
    """Refuse anything but a missing path, an empty folder, or a results folder with nothing added to it."""
    outdir = absolute(outdir)
    if outdir.is_symlink():
        raise ResultsError("the output path is a symbolic link; wattscale neither follows nor replaces it",
                           file=str(outdir), expected="a plain folder path (give the link's target instead)")
    if not outdir.exists():
        return
    if not outdir.is_dir():
        raise ResultsError("the output path exists and is a file, not a folder; it is left untouched", file=str(outdir),
                           expected="a new folder or an earlier wattscale results folder")
    try:
        present = _tree(outdir)
    except OSError as exc:
        raise _unwritable(outdir, exc) from None
    if not present:
        return
    listed = written_files(outdir)
    if listed is None:
        raise ResultsError("the output folder exists and is not a wattscale results folder (it has no marker of "
                           f"'{MARKER}'); it is left untouched",
                           file=str(outdir), expected="a new folder, an empty one or an earlier wattscale results "
                                                      "folder")
    extra = sorted(present - listed - {MARKER, MARKER_TMP})
    if extra:
        raise ResultsError(f"the output folder holds {len(extra)} file(s) wattscale did not write (e.g. "
                           f"'{excerpt(extra[0])}'); it is left untouched", file=str(outdir),
                           expected="a results folder with nothing added, or a new folder")


def written_files(folder: Path) -> set[str] | None:
    """The files wattscale's marker lists in ``folder``, or None when it has no valid marker."""
    marker = folder / MARKER
    if marker.is_symlink() or not marker.is_file():
        return None
    try:
        info = json.loads(marker.read_bytes()[:1_000_000])
    except (OSError, ValueError):
        return None
    files = info.get("files") if isinstance(info, dict) and info.get("format") == MARKER_FORMAT else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return set(files)


def recover(outdir: Path) -> None:
    """Finish a swap a crash interrupted, and remove the hidden folders of runs that are no longer running."""
    outdir = absolute(outdir)
    parent, name = outdir.parent, outdir.name
    if not parent.is_dir():
        return
    olds = _hidden(parent, rf"\.{re.escape(name)}\.old-(\d+)")
    partials = _hidden(parent, rf"\.{re.escape(name)}\.partial-(\d+)-[A-Za-z0-9_]+")
    dead_partials = [p for p, pid in partials if not _alive(pid)]
    dead_olds = [p for p, pid in olds if not _alive(pid)]
    if not outdir.exists() and not outdir.is_symlink():
        complete = [p for p in dead_partials if written_files(p) is not None]  # the marker is written last
        candidates = sorted(complete, key=lambda p: (p / MARKER).stat().st_mtime) or \
            sorted((p for p in dead_olds if written_files(p) is not None), key=lambda p: p.stat().st_mtime)
        if candidates:
            os.replace(candidates[-1], outdir)
            _fsync_dir(parent)
    for p in dead_partials + dead_olds:
        if p.exists() and p != outdir:
            shutil.rmtree(p, ignore_errors=True)


def json_default(obj):
    """How results that are not plain JSON are written: numpy numbers as numbers, times as ISO text, models as
    their JSON, anything else as its text."""
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    return str(obj)


def strict_json(data: bytes | str) -> bytes:
    """JSON text re-encoded as strict JSON: NaN and infinities (never valid JSON) become null."""
    return (json.dumps(_finite(json.loads(data)), indent=2, allow_nan=False) + "\n").encode()


# ------------------------------------------------------------------ helpers
def _content(name: str, data: bytes | str, outdir: Path) -> bytes:
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if name.endswith(".json"):
        try:
            return strict_json(raw)
        except ValueError as exc:  # a bug, not user input: still one clear message
            raise ResultsError(f"cannot write '{name}' as JSON ({exc})", file=str(outdir)) from None
    return raw


def _check_relative(name: str, outdir: Path) -> None:
    parts = Path(name).parts
    if not parts or Path(name).is_absolute() or ".." in parts or name == MARKER:
        raise ResultsError(f"a results file name '{excerpt(name)}' would leave the folder", file=str(outdir),
                           expected="relative file names inside the results folder")


def _write_file(path: Path, data: bytes, *, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if private else 0o777)
    if private:
        path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_in(tmp: Path, outdir: Path) -> None:
    if outdir.exists():
        old = outdir.with_name(f".{outdir.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(outdir, old)
        os.replace(tmp, outdir)
        _fsync_dir(outdir.parent)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, outdir)
        _fsync_dir(outdir.parent)


def _tree(folder: Path) -> set[str]:
    found = set()
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        found.update(str(rel / f) for f in files)
        found.update(str(rel / d) for d in dirs if (Path(root) / d).is_symlink())  # a link is never ours
        if not files and not dirs and rel != Path("."):
            found.add(str(rel) + "/")  # an empty sub-folder is not ours either
    return {f.removeprefix("./") for f in found}


def _hidden(parent: Path, pattern: str) -> list[tuple[Path, int]]:
    rx = re.compile(pattern + r"$")
    out = []
    for entry in os.scandir(parent):
        m = rx.match(entry.name)
        if m and entry.is_dir(follow_symlinks=False):
            out.append((Path(entry.path), int(m.group(1))))
    return out


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _fsync_tree(folder: Path) -> None:
    for root, dirs, _files in os.walk(folder, topdown=False):
        for d in dirs:
            _fsync_dir(Path(root) / d)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _unwritable(outdir: Path, exc: OSError) -> ResultsError:
    return ResultsError(f"cannot write results: {exc.strerror or exc}", file=str(outdir),
                        expected="a writable folder")
