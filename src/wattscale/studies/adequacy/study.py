"""An adequacy study: the exact indices from the capacity outage table, the two Monte Carlo methods beside them,
and what an AI campus does to the system (its effect, and the headroom with curtailment)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wattscale.errors import ScenarioError
from wattscale.network.adequacy import Copt, Indices, exact_indices, outage_table
from wattscale.network.adequacy_mc import McIndices, nonsequential, sequential
from wattscale.network.adequacy_system import System
from wattscale.network.headroom import CampusEffect, campus_effect, headroom_table


@dataclass
class AdequacyResult:
    system: System
    method: str
    copt: Copt
    exact: Indices | None  # without storage or a flexible campus: those need the sequential method
    monte_carlo: list[McIndices]
    campus: CampusEffect | None
    headroom: list[dict]

    @property
    def headline(self) -> dict:
        """The indices of the method that models everything in the file (sequential when there is storage or
        curtailment, else exact)."""
        seq = next((m for m in self.monte_carlo if m.method.startswith("sequential")), None)
        if seq is not None and (needs_sequential(self.system) or self.exact is None):
            return {"method": seq.method, "lole_h_per_year": seq.lole_h_per_year,
                    "lole_d_per_year": seq.lole_d_per_year, "eue_mwh_per_year": seq.eue_mwh_per_year,
                    "neue_ppm": seq.neue_ppm, "lolf_per_year": seq.lolf_per_year}
        if self.exact is None:  # the non-sequential method alone
            m = self.monte_carlo[0]
            return {"method": m.method, "lole_h_per_year": m.lole_h_per_year, "lole_d_per_year": m.lole_d_per_year,
                    "eue_mwh_per_year": m.eue_mwh_per_year, "neue_ppm": m.neue_ppm}
        e = self.exact
        return {"method": "exact (capacity outage table)", "lole_h_per_year": e.lole_h_per_year,
                "lole_d_per_year": e.lole_d_per_year, "eue_mwh_per_year": e.eue_mwh_per_year,
                "neue_ppm": e.neue_ppm, "lolp": e.lolp}

    def kpis(self) -> dict:
        k = {**self.headline, "installed_mw": self.system.units.installed_mw,
             "peak_load_mw": float(self.system.load_mw.max()), "hours": len(self.system.load_mw)}
        seq = next((m for m in self.monte_carlo if m.method.startswith("sequential")), None)
        price = self.system.spec.campus.curtail_price_usd_per_mwh if self.system.spec.campus else None
        if seq is not None and self.system.flexible is not None:
            k["campus_curtailed_mwh_per_year"] = seq.curtailed_mwh_per_year
            if price is not None:
                k["campus_curtailment_paid_usd_per_year"] = seq.curtailed_mwh_per_year * price
        if self.campus is not None:
            k.update({"campus_mw": self.campus.campus_mw,
                      "campus_lole_increase_h_per_year": self.campus.lole_increase_h_per_year,
                      "campus_eue_increase_mwh_per_year": self.campus.eue_increase_mwh_per_year})
        return k

    def index_table(self) -> pd.DataFrame:
        rows = []
        left_out = [w for w, on in (("campus never curtails", self.system.flexible is not None),
                                    ("no storage", self.system.storage is not None)) if on]
        fixed = f" ({', '.join(left_out)})" if left_out else ""
        if self.exact is not None:
            e = self.exact
            rows.append({"method": "exact (capacity outage table)" + fixed, "years": np.nan,
                         "lole_h_per_year": e.lole_h_per_year, "lole_h_se": 0.0, "lole_d_per_year": e.lole_d_per_year,
                         "lole_d_se": 0.0, "eue_mwh_per_year": e.eue_mwh_per_year, "eue_se": 0.0,
                         "lolf_per_year": np.nan, "neue_ppm": e.neue_ppm})
        for m in self.monte_carlo:
            row = {k: v for k, v in m.as_dict().items() if k != "curtailed_mwh_per_year"}
            if m.method.startswith("non-sequential"):
                row["method"] += fixed
            elif needs_sequential(self.system):
                row["method"] += " (campus curtails)" if self.system.flexible is not None else " (with storage)"
            rows.append(row)
        return pd.DataFrame(rows)

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {"indices": self.index_table(),
               "copt": pd.DataFrame({"outage_mw": self.copt.outage_mw, "probability": self.copt.probability,
                                     "probability_exceeded": self.copt.exceed})}
        if self.exact is not None:
            out["hourly_lolp"] = pd.DataFrame({"hour": np.arange(1, len(self.exact.hourly_lolp) + 1),
                                               "load_mw": self.system.load_mw, "lolp": self.exact.hourly_lolp})
        seq = next((m for m in self.monte_carlo if m.method.startswith("sequential")), None)
        if seq is not None:
            d = seq.durations_h
            out["event_durations"] = pd.DataFrame({"duration_h": np.arange(len(d))[1:], "events": d[1:],
                                                   "events_per_year": d[1:] / seq.years})
        if self.headroom:
            out["headroom"] = pd.DataFrame(self.headroom)
        return out

    def notes(self) -> list[str]:
        h = self.headline
        out = [f"{self.system.name}: LOLE {h['lole_h_per_year']:.4g} h/yr, {h['lole_d_per_year']:.4g} d/yr; EUE "
               f"{h['eue_mwh_per_year']:,.1f} MWh/yr ({h['method']})"]
        if self.campus is not None:
            out.append(f"a {self.campus.campus_mw:,.0f} MW campus that never curtails raises LOLE by "
                       f"{self.campus.lole_increase_h_per_year:.3g} h/yr and EUE by "
                       f"{self.campus.eue_increase_mwh_per_year:,.0f} MWh/yr")
        return out


def needs_sequential(system: System) -> bool:
    """Storage or a campus that curtails: only the sequential method follows them."""
    return system.storage is not None or (system.flexible is not None and system.flexible.share > 0)


def run_adequacy_study(system: System, *, method: str | None = None, years: int | None = None,
                       seed: int | None = None, progress=None) -> AdequacyResult:
    """The methods asked for on ``system`` (the file's settings unless given)."""
    spec = system.spec
    method = method or spec.method
    if method in ("exact", "nonsequential") and needs_sequential(system):
        raise ScenarioError(f"the {method} method cannot follow storage or a campus that curtails", file=system.file,
                            field="method", expected="method sequential or all")
    years = years or spec.years
    seed = spec.seed if seed is None else seed
    say = progress or (lambda *a: None)
    say("capacity outage table", 0, None)
    copt = outage_table(system.units)
    base_load = system.load_mw
    gross = system.gross_load_mw + system.campus_mw  # NEUE's denominator: the load before renewables
    exact = exact_indices(copt, base_load + system.campus_mw, gross_load_mw=gross) if method in ("all", "exact") \
        else None
    mcs = []

    def tick(label):
        return lambda what, done, total: say(f"{label}, {years:,} years", done, total)

    if method in ("all", "nonsequential"):
        mcs.append(nonsequential(system.units, base_load + system.campus_mw, years, seed=seed,
                                 progress=tick("non-sequential Monte Carlo"), gross_mwh=float(gross.sum())))
    if method in ("all", "sequential"):
        mcs.append(sequential(system.units, base_load, years, seed=seed, storage=system.storage,
                              flexible=system.flexible, default_mttr_h=spec.default_mttr_h,
                              progress=tick("sequential Monte Carlo"),
                              gross_mwh=float(system.gross_load_mw.sum())))
    campus = campus_effect(copt, base_load, system.campus_mw) if system.flexible is not None else None
    headroom = headroom_table(copt, base_load) if system.flexible is not None else []
    return AdequacyResult(system, method, copt, exact, mcs, campus, headroom)
