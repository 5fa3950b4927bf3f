"""A linear (or mixed-integer) programme built once with linopy and re-solved with new numbers in HiGHS.

A formulation declares variables and constraints through a ``Programme``. The numbers (bounds, right-hand
sides, costs) are given as arrays; the structure (which variables appear in which rows, with which
coefficients) as callables evaluated only when the model is first built. ``update`` runs the same
formulation again in numbers-only mode and writes the new numbers straight into the HiGHS model, so a
rolling-horizon controller re-plans without rebuilding anything.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from wattscale.errors import PlanningError

INF = np.inf


def _highspy():
    try:
        import highspy
    except ImportError:  # pragma: no cover - highspy is a dependency
        raise PlanningError("the HiGHS solver is not installed", expected="'pip install highspy'") from None
    return highspy


class StructureChanged(ValueError):
    """New numbers that need another structure (a variable's shape, or rows a mask left out): rebuild."""


@dataclass
class Solution:
    status: str  # "optimal", "infeasible", "time limit" ...
    objective: float
    values: dict[str, np.ndarray]
    solve_s: float
    mip_gap: float = 0.0
    duals: dict[str, np.ndarray] | None = None  # per constraint: d(objective)/d(right-hand side), LPs and QPs only


class Programme:
    """Declare variables and constraints once; re-solve with new bounds, right-hand sides and costs."""

    def __init__(self, formulation: Callable[["Programme"], None], *, time_limit_s: float = 60.0,
                 mip_rel_gap: float = 1e-6, threads: int = 1) -> None:
        import linopy

        self._formulation = formulation
        self._building = True
        self.model = linopy.Model()
        self._vars: dict[str, tuple] = {}  # name -> (variable, lower, upper, cost)
        self._cons: dict[str, tuple] = {}  # name -> (constraint, sign, rhs)
        self.constant_usd = 0.0
        formulation(self)
        self._building = False
        self._highs = self._to_highs(time_limit_s, mip_rel_gap, threads)

    # ------------------------------------------------------------ declaring
    @property
    def building(self) -> bool:
        return self._building

    def var(self, name: str, dims: dict[str, int], lower, upper, cost=0.0, *, binary: bool = False):
        """A variable over ``dims`` (name -> length) with bounds and a linear cost (broadcast to its shape)."""
        shape = tuple(dims.values())
        lower, upper, cost = (np.broadcast_to(np.asarray(a, float), shape) for a in (lower, upper, cost))
        if not self._building:
            self._check_shape(name, shape)
            self._vars[name] = (self._vars[name][0], lower, upper, cost)
            return None
        coords = [pd.RangeIndex(n, name=d) for d, n in dims.items()]
        if binary:
            v = self.model.add_variables(coords=coords, name=name, binary=True)
        else:
            v = self.model.add_variables(lower=_da(lower, coords), upper=_da(upper, coords), coords=coords,
                                         name=name)
        self._vars[name] = (v, lower, upper, cost)
        return v

    def con(self, name: str, lhs: Callable[[], object], sign: str, rhs, *, mask=None) -> None:
        """A constraint ``lhs() sign rhs``; ``rhs`` is broadcast to the rows (an xarray is matched by dimension
        names); a row with an infinite right-hand side is inactive, one outside ``mask`` (an xarray of booleans,
        part of the structure) is never built."""
        if not self._building:
            entry = self._cons[name]
            built = entry[4]
            if mask is not None and built is not None and np.any(mask.transpose(*entry[3]).values & ~built):
                raise StructureChanged(f"rows of {name} that were never built are needed now: rebuild")
            self._cons[name] = (entry[0], sign, _rows(rhs, entry[3], entry[2].shape), entry[3], built)
            return
        expr = lhs()
        dims = tuple(expr.coord_dims)
        coords = [expr.indexes[d] for d in dims]
        rhs = _rows(rhs, dims, tuple(len(c) for c in coords))
        c = self.model.add_constraints(expr, sign, _da(rhs, coords) if coords else float(rhs), name=name,
                                       mask=None if mask is None else mask.transpose(*dims).assign_coords(
                                           {d: coords[i] for i, d in enumerate(dims)}))
        self._cons[name] = (c, sign, rhs, dims, None if mask is None else mask.transpose(*dims).values.copy())

    def variable(self, name: str):
        """A declared linopy variable (build time)."""
        return self._vars[name][0]

    @property
    def variable_names(self) -> list[str]:
        """The names of the declared variables, in order."""
        return list(self._vars)

    def _check_shape(self, name: str, shape: tuple) -> None:
        if name not in self._vars or self._vars[name][1].shape != shape:
            raise StructureChanged(f"programme structure changed at variable {name}: rebuild instead of update")

    # ------------------------------------------------------------ solving
    def _to_highs(self, time_limit_s: float, mip_rel_gap: float, threads: int):
        _highspy()  # a missing solver is a clear error before linopy fails
        m = self.model
        terms = [(_da(cost, [v.indexes[d] for d in v.dims]) * v).sum()
                 for v, _lo, _up, cost in self._vars.values() if np.any(cost != 0)]
        m.add_objective(sum(terms[1:], terms[0]) if terms else 0 * next(iter(self._vars.values()))[0].sum())
        with quiet_stdout():  # HiGHS prints a banner when its first instance is made
            h = m.to_highspy()
        h.setOptionValue("output_flag", False)
        self._time_limit_s = float(time_limit_s)
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        h.setOptionValue("threads", int(threads))
        mat = m.matrices
        vpos = label_positions(mat.vlabels, [v[0].labels for v in self._vars.values()])
        cpos = label_positions(mat.clabels, [c[0].labels for c in self._cons.values()])
        def positions(pos: np.ndarray, labels) -> np.ndarray:
            lab = labels.values.ravel()
            return np.where(lab >= 0, pos[np.maximum(lab, 0)], -1)  # -1: a masked row or column, never built

        self._vcols = {k: positions(vpos, v[0].labels) for k, v in self._vars.items()}
        self._crows = {k: positions(cpos, c[0].labels) for k, c in self._cons.items()}
        self._highs = h
        self._push()
        return h

    def update(self) -> None:
        """Re-run the formulation for its numbers (its inputs having changed) and load them into HiGHS."""
        self.constant_usd = 0.0
        self._formulation(self)
        self._push()

    def _push(self) -> None:
        h = self._highs
        for name, (_v, lo, up, cost) in self._vars.items():
            cols = self._vcols[name]
            ok = cols >= 0
            idx = cols[ok].astype(np.int32)
            _ok(h.changeColsBounds(len(idx), idx, lo.ravel()[ok], up.ravel()[ok]), name)
            _ok(h.changeColsCost(len(idx), idx, cost.ravel()[ok]), name)
        for name, (_c, sign, rhs, _dims, _mask) in self._cons.items():
            rows = self._crows[name]
            ok = rows >= 0
            idx = rows[ok].astype(np.int32)
            b = rhs.ravel()[ok]
            lower = b if sign in (">=", "==") else np.full(len(b), -INF)
            upper = b if sign in ("<=", "==") else np.full(len(b), INF)
            _ok(h.changeRowsBounds(len(idx), idx, lower, upper), name)

    def solve(self) -> Solution:
        h = self._highs
        h.setOptionValue("time_limit", h.getRunTime() + self._time_limit_s)  # HiGHS counts from its creation
        t0 = time.perf_counter()
        h.run()
        solve_s = time.perf_counter() - t0
        status = h.modelStatusToString(h.getModelStatus()).lower()
        info = h.getInfo()
        ok = status == "optimal" or (status.startswith("time limit") and info.primal_solution_status == 2)
        if not ok:
            return Solution(status, float("nan"), {}, solve_s)
        x = np.asarray(h.getSolution().col_value)
        values = {}
        for name, cols in self._vcols.items():
            shape = self._vars[name][1].shape
            out = np.zeros(int(np.prod(shape)))
            ok_cols = cols >= 0
            out[ok_cols] = x[cols[ok_cols]]
            values[name] = out.reshape(shape)
        self.last_values = values
        duals = None
        if info.dual_solution_status == 2:  # feasible duals (not after a MIP)
            y = np.asarray(h.getSolution().row_dual)
            duals = {}
            for name, rows in self._crows.items():
                out = np.full(rows.shape, np.nan)
                ok_rows = rows >= 0
                out[ok_rows] = y[rows[ok_rows]]
                duals[name] = out.reshape(self._cons[name][2].shape)
        gap = float(getattr(info, "mip_gap", 0.0) or 0.0)
        return Solution("optimal" if status == "optimal" else status, float(info.objective_function_value)
                        + self.constant_usd, values, solve_s, gap if np.isfinite(gap) else 0.0, duals)

    def square(self, a: str, b: str, weight) -> None:
        """Add ``weight/2 * (a - b)**2`` per element to the objective (variables of the same shape; a convex QP,
        for continuous programmes only); called again, it replaces the weights."""
        cols_a, cols_b = self._vcols[a].ravel(), self._vcols[b].ravel()
        w = np.broadcast_to(np.asarray(weight, float), cols_a.shape)
        n = self._highs.getNumCol()
        entries: dict[int, list[tuple[int, float]]] = {}
        for i, j, wk in zip(cols_a, cols_b, w):  # lower triangle, column by column
            if i < 0 or j < 0:
                continue
            lo, hi = (int(i), int(j)) if i < j else (int(j), int(i))
            entries.setdefault(int(i), []).append((int(i), wk))
            entries.setdefault(int(j), []).append((int(j), wk))
            entries.setdefault(lo, []).append((hi, -wk))
        start, index, value = [0], [], []
        for col in range(n):
            for row, v in sorted(entries.get(col, [])):
                index.append(row)
                value.append(v)
            start.append(len(index))
        highspy = _highspy()
        _ok(self._highs.passHessian(n, len(value), highspy.HessianFormat.kTriangular,
                                    np.array(start[:-1], np.int32), np.array(index, np.int32),
                                    np.array(value, float)), f"square({a}, {b})")


def _ok(status, name: str) -> None:
    if status != _highspy().HighsStatus.kOk:
        raise PlanningError(f"HiGHS refused the new numbers of {name} ({status})", field="dispatch")


@contextlib.contextmanager
def quiet_stdout():
    """Silence what C code writes to standard output (not Python's own streams)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _rows(rhs, dims: tuple, shape: tuple) -> np.ndarray:
    if isinstance(rhs, xr.DataArray):
        rhs = rhs.transpose(*dims).values
    return np.broadcast_to(np.asarray(rhs, float), shape)


def _da(values: np.ndarray, coords: list) -> xr.DataArray:
    return xr.DataArray(np.asarray(values, float), coords=coords)


def label_positions(built_labels: np.ndarray, declared_labels) -> np.ndarray:
    """Where each linopy label (of a variable or a row) sits in the matrices linopy built, -1 where it is not
    there (masked), from linopy's public labels only."""
    top = max([int(np.max(built_labels, initial=-1))] + [int(lab.values.max(initial=-1)) for lab in declared_labels])
    pos = np.full(top + 1, -1, dtype=np.int64)
    pos[built_labels] = np.arange(len(built_labels))
    return pos
