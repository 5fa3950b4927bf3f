"""``wattscale init``: a commented starter scenario for a campus at a location."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer
from rich.markup import escape

from wattscale.cli.common import console, fail


def init(path: Path = typer.Argument(..., help="the scenario file to write, e.g. my-campus.yaml (must not exist)",
                                     show_default=False),
         latitude: float = typer.Option(..., help="the site's latitude, degrees north", show_default=False),
         longitude: float = typer.Option(..., help="the site's longitude, degrees east (west is negative)",
                                         show_default=False),
         it_mw: float = typer.Option(100.0, "--it-mw", help="IT load, MW")) -> None:
    """Write a commented starter scenario for a campus at LATITUDE, LONGITUDE: the nearest built-in market's prices
    and carbon, its time zone, a year at hourly steps; checked before it is written, never over an existing file."""
    import yaml

    from wattscale.errors import ResultsError, WattscaleError
    from wattscale.guards import check_number
    from wattscale.scenario.load import scenario_from_dict
    from wattscale.scenario.schema import MAX_MW
    from wattscale.scenario.starter import nearest_market, starter_scenario

    try:
        check_number(latitude, "--latitude", low=-90, high=90, low_inclusive=True)
        check_number(longitude, "--longitude", low=-180, high=180, low_inclusive=True)
        check_number(it_mw, "--it-mw", low=0, high=MAX_MW)
        if path.exists() or path.is_symlink():
            raise ResultsError("a file is already there; it is left untouched", file=str(path),
                               expected="a new file name")
        name = "".join(c if c.isalnum() or c in "-_" else "-" for c in path.stem)[:80] or "campus"
        text = starter_scenario(name, latitude, longitude, it_mw)
        scenario_from_dict(yaml.safe_load(text), source=path)  # what is written is a valid scenario
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
        except OSError as exc:
            raise ResultsError(f"cannot write the scenario ({exc.strerror or exc})", file=str(path)) from None
        tmp = Path(tmp_name)  # ours alone: made by mkstemp, so removing it removes nothing else
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.link(tmp, path)  # never replaces a file that appeared meanwhile
        except FileExistsError:
            raise ResultsError("a file is already there; it is left untouched", file=str(path),
                               expected="a new file name") from None
        except OSError as exc:
            raise ResultsError(f"cannot write the scenario ({exc.strerror or exc})", file=str(path)) from None
        finally:
            tmp.unlink(missing_ok=True)
    except WattscaleError as exc:
        fail(exc)
    market, km = nearest_market(latitude, longitude)
    console.print(f"wrote {escape(str(path))}: {it_mw:g} MW IT, grid series of {market.name} ({km:,.0f} km away)")
    console.print(f"next: wattscale validate {escape(str(path))}   then   wattscale run {escape(str(path))}")
