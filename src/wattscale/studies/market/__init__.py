"""The ``market`` study: sites trade peer to peer each interval and settle on the signed ledger; ADMM behind a
shared connection; virtual-power-plant calls."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from wattscale.engine.campus import Campus
from wattscale.studies.base import Options, Progress, StudyResult


class MarketOptions(Options):
    """Settings live in the scenario's ``market:`` section."""


def run_market(campus: Campus, options: MarketOptions, progress: Progress) -> StudyResult:
    from wattscale.studies.market.report import render_market_report
    from wattscale.studies.market.study import run_market_study

    work = Path(tempfile.mkdtemp(prefix="wattscale-market-"))  # 0700; the public ledger only, removed below
    try:
        study = run_market_study(campus, work,
                                 progress=lambda stage, done, total: progress(stage, done, total or None))
        ledger = (work / "ledger.sqlite").read_bytes()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    files = {"ledger.sqlite": ledger, "trust.json": json.dumps(study.trust, indent=2),
             "checkpoint.json": json.dumps(study.checkpoint, indent=2)}
    # the demo's private keys go from memory straight into the results folder (0600 files in a 0700 folder)
    files.update({f"keys/{name}.pem": ident.private_pem() for name, ident in sorted(study.identities.items())})
    tables = {"intervals": study.intervals, "bills": study.bills}
    tables.update({f"event-{i}": e.by_site for i, e in enumerate(study.events)})
    summary = study.summary()
    kpis = {"traded_mwh": summary["traded_mwh"], "welfare_usd": summary["welfare_usd"],
            "mean_price_usd_per_mwh": summary["mean_price_usd_per_mwh"],
            "ledger_entries": summary["ledger"]["entries"], "ledger_verified": summary["ledger"]["verified"]}
    return StudyResult("market", options, kpis=kpis, value=study, render_report=lambda: render_market_report(study),
                       tables=tables, files=files, details=summary)
