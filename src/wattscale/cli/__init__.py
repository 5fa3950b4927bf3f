"""The ``wattscale`` command line (typer + rich): one module per command group, each a thin wrapper over a
registered study (``wattscale.studies``); ``common`` holds what they share."""
from __future__ import annotations

import typer

from wattscale.cli import (
    adequacy,
    catalog,
    forecast,
    grid,
    gridcode,
    ledger,
    market,
    resilience,
    serve,
    simulate,
    size,
    starter,
    sweep,
    swings,
)
from wattscale.cli.common import fail
from wattscale.errors import WattscaleError


def _flags_take_no_value() -> None:
    """typer 0.29 shows a flag's type in help ('--quiet <bool>') as if it took a value; show none."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "_wattscale", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag else shown(self, ctx)

    display_type_rich._wattscale = True
    TyperOption.display_type_rich = display_type_rich


_flags_take_no_value()

app = typer.Typer(help="wattscale: simulate, optimise and stabilise the energy supply of AI compute campuses.\n\n"
                       "Example: wattscale run examples/llm-campus.yaml -o out/campus   (scenario format: README.md)",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def options(max_memory_gb: float = typer.Option(
        None, "--max-memory-gb", show_default=False,
        help="memory a command may plan to use, in GB (default: $WATTSCALE_MAX_MEMORY_GB, else 80 % of this "
             "machine's); larger problems are refused before they start")) -> None:
    """Options for every command, given before it: wattscale --max-memory-gb 64 run big.yaml"""
    from wattscale.guards import set_memory_limit

    try:
        set_memory_limit(max_memory_gb)
    except WattscaleError as exc:
        fail(exc)


for command in (starter.init, simulate.run, simulate.validate, swings.swings, gridcode.gridcode, adequacy.adequacy,
                resilience.resilience, size.size, market.market, sweep.sweep, serve.serve, serve.ven, catalog.studies,
                catalog.gpus, catalog.defaults, catalog.schema):
    app.command()(command)
app.add_typer(grid.app, name="grid")
app.add_typer(forecast.app, name="forecast")
app.add_typer(ledger.app, name="ledger")
app.add_typer(serve.token_app, name="token")

__all__ = ["app"]
