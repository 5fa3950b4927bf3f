"""Shared fixtures: the shared real-data folder (tests marked `realdata` need it) and small builders."""
from __future__ import annotations

import os
from pathlib import Path

# one thread per test process: pytest-xdist runs a process per core, and libraries that start a thread per core
# each (torch, BLAS, OpenMP) would share those cores several ways
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("WATTSCALE_DATA", ROOT.parent / "shared" / "data"))
HAVE_DATA = DATA.is_dir()


def pytest_collection_modifyitems(config, items):
    if HAVE_DATA:
        return
    skipped = [item for item in items if "realdata" in item.keywords]
    if skipped:
        items[:] = [item for item in items if "realdata" not in item.keywords]
        config.hook.pytest_deselected(items=skipped)
        print(f"\nnote: {len(skipped)} realdata tests deselected: no shared data at {DATA} (set WATTSCALE_DATA)")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return ROOT / "examples"
