"""``wattscale studies``, ``gpus`` and ``defaults``: what is built in."""
from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from wattscale.cli.common import WIDE, console



def studies() -> None:
    """List the studies: each runs from Python with wattscale.run_study(NAME, SUBJECT, **options)."""
    from wattscale.studies import STUDIES

    for study in STUDIES.values():
        options = ", ".join(study.options.model_fields) or "no options"
        console.print(f"[bold]{study.name}[/] ({study.takes}): {escape(study.summary)} [dim]({escape(options)})[/]")


def gpus(wide: bool = WIDE) -> None:
    """List the GPU catalog: per-GPU power by phase, power-cap range and server overhead."""
    from wattscale.compute.catalog import load_catalog

    cols = {"idle_w": "idle", "communication_w": "comm", "memory_bound_w": "memory", "compute_w": "compute",
            "tdp_w": "TDP", "power_cap_min_w": "cap min"}
    if wide:
        cols = {**cols, "prefill_w": "prefill", "server_overhead_w": "server", "gpus_per_server": "GPUs/srv"}
    table = Table(title="GPU catalog, W per GPU", box=box.SIMPLE_HEAD,
                  caption="sources: data/gpu_catalog.yaml" + ("" if wide else "; --wide: prefill, server overhead"))
    table.add_column("GPU", no_wrap=True)
    for header in cols.values():
        table.add_column(header, justify="right", no_wrap=True)
    for name, g in load_catalog().gpus.items():
        table.add_row(name, *[f"{getattr(g, c):g}" for c in cols])
    console.print(table)


def defaults(wide: bool = WIDE) -> None:
    """List the built-in price, carbon-intensity and carbon-free-share profiles usable as `{default: NAME}`."""
    from wattscale.timeseries.profiles import profile_table

    table = Table(title="built-in month-by-hour profiles (2023 data)", box=box.SIMPLE_HEAD,
                  caption="derived by scripts/derive_profiles.py" + ("" if wide else "; --wide: time zones"))
    table.add_column("profile", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    for name in ("mean", "min", "max"):
        table.add_column(name, justify="right", no_wrap=True)
    if wide:
        table.add_column("time zone", no_wrap=True)
    for name, rows in profile_table().groupby("profile"):
        v, unit = rows["value"], rows["unit"].iloc[0]
        if unit == "fraction":  # a share reads as a percentage
            v, unit = 100 * v, "%"
        cells = [name, unit, f"{v.mean():.2f}", f"{v.min():.2f}", f"{v.max():.2f}"]
        table.add_row(*cells, *([rows["timezone"].iloc[0]] if wide else []))
    console.print(table)


def schema(output: Path = typer.Option(None, "--output", "-o", help="write it to this file (default: print it)")
           ) -> None:
    """The JSON Schema of scenario files, for editor completion and checking (e.g. with the YAML language server:
    '# yaml-language-server: $schema=scenario.schema.json')."""
    import json

    from wattscale.cli.common import fail
    from wattscale.errors import ResultsError
    from wattscale.scenario.schema import Scenario

    doc = Scenario.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "wattscale scenario"
    text = json.dumps(doc, indent=1)
    if output is None:
        console.print_json(text)
        return
    if output.exists() or output.is_symlink():
        fail(ResultsError("a file is already there; it is left untouched", file=str(output),
                          expected="a new file name"))
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        fail(ResultsError(f"cannot write the schema ({exc.strerror or exc})", file=str(output)))
    console.print(f"wrote {escape(str(output))}")
