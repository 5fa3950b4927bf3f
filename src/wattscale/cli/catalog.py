"""``wattscale studies``, ``gpus`` and ``defaults``: what is built in."""
from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from wattscale.cli.common import console


def studies() -> None:
    """List the studies: each runs from Python with wattscale.run_study(NAME, SUBJECT, **options)."""
    from wattscale.studies import STUDIES

    for study in STUDIES.values():
        options = ", ".join(study.options.model_fields) or "no options"
        console.print(f"[bold]{study.name}[/] ({study.takes}): {escape(study.summary)} [dim]({escape(options)})[/]")


def gpus() -> None:
    """List the GPU catalog: per-GPU power by phase, power-cap range and server overhead."""
    from wattscale.compute.catalog import load_catalog

    table = Table(title="GPU catalog (W per GPU; server overhead per server; sources in data/gpu_catalog.yaml)")
    cols = ("idle_w", "communication_w", "memory_bound_w", "compute_w", "prefill_w", "tdp_w", "power_cap_min_w",
            "server_overhead_w", "gpus_per_server")
    table.add_column("GPU", no_wrap=True)
    for c in cols:
        table.add_column(c.replace("_w", "").replace("_", " "), justify="right")
    for name, g in load_catalog().gpus.items():
        table.add_row(name, *[f"{getattr(g, c):g}" for c in cols])
    console.print(table)


def defaults() -> None:
    """List the built-in price, carbon-intensity and carbon-free-share profiles usable as `{default: NAME}`."""
    from wattscale.timeseries.profiles import profile_table

    table = Table(title="built-in month-by-hour profiles (2023 data; see `scripts/derive_profiles.py`)")
    table.add_column("profile", no_wrap=True)
    for name in ("quantity", "unit", "time zone", "mean", "min", "max"):
        table.add_column(name, overflow="fold")
    for name, rows in profile_table().groupby("profile"):
        v = rows["value"]
        table.add_row(name, rows["quantity"].iloc[0], rows["unit"].iloc[0], rows["timezone"].iloc[0],
                      f"{v.mean():.2f}", f"{v.min():.2f}", f"{v.max():.2f}")
    console.print(table)
