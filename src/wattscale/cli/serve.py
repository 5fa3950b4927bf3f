"""``wattscale serve``, ``wattscale token create`` and ``wattscale ven``: the service, its tokens, and a campus's
OpenADR client."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import typer
from rich.markup import escape

from wattscale.cli.common import console, fail
from wattscale.errors import WattscaleError

DATA = typer.Option(..., "--data", help="the service's data folder (studies, tokens, ledger); made if missing",
                    show_default=False)

token_app = typer.Typer(help="bearer tokens for the service: printed once, stored as a hash", no_args_is_help=True)


def serve(data: Path = DATA,
          port: int = typer.Option(8765, min=1, max=65535, help="TCP port"),
          host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0: every interface)"),
          workers: int = typer.Option(2, min=1, max=256, help="worker processes running studies"),
          scheduler: str = typer.Option(None, help="a Dask scheduler address (tcp://host:8786): run studies on "
                                        "its cluster instead of local worker processes"),
          callback_host: list[str] = typer.Option(None, "--callback-host", help="a host OpenADR subscribers' "
                                                  "callback URLs may name (repeat for more; default: none)"),
          log_level: str = typer.Option("info", help="uvicorn log level: critical, error, warning, info, debug")
          ) -> None:
    """Serve the REST API (/docs), the dashboard (/) and the OpenADR 3 VTN (/openadr3/3.0.1) over DATA.

    Example: wattscale token create alice --data srv && wattscale serve --data srv --port 8765"""
    import uvicorn

    from wattscale.service.app import create_app

    try:
        app = create_app(data, workers=workers, scheduler=scheduler, callback_hosts=callback_host)
    except WattscaleError as exc:
        fail(exc)
    console.print(f"wattscale service on http://{host}:{port}/  (API docs: /docs; data: {escape(str(data))})",
                  highlight=False)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)


@token_app.command("create")
def token_create(name: str = typer.Argument(..., help="who holds the token (a VEN: the VEN's name)",
                                            show_default=False),
                 data: Path = DATA,
                 role: str = typer.Option("user", help="user (studies, live runs), operator (OpenADR programs, "
                                          "events, settlement) or ven (one campus's OpenADR client)")) -> None:
    """Create a bearer token and print it (only its hash is kept: save it now)."""
    from wattscale.service.tokens import create_token

    try:
        token = create_token(data, name, role)
    except WattscaleError as exc:
        fail(exc)
    print(token)


def ven(scenario: Path = typer.Argument(..., help="the campus's scenario", show_default=False),
        vtn: str = typer.Option(..., help="the VTN's base URL, e.g. http://127.0.0.1:8765/openadr3/3.0.1",
                                show_default=False),
        token: str = typer.Option(..., envvar="WATTSCALE_TOKEN", help="this VEN's token ($WATTSCALE_TOKEN)",
                                  show_default=False),
        name: str = typer.Option(..., help="this VEN's name (as its token was created)", show_default=False),
        site: str = typer.Option(None, help="the site it runs (default: the first)"),
        every_s: float = typer.Option(0, "--every-s", min=0, help="poll again every so many seconds (0: once)")
        ) -> None:
    """Answer the VTN's events for this campus: re-plan with MPC and report delivery against the baseline."""
    from wattscale.service.openadr.ven import CampusVen

    try:
        client = CampusVen(str(scenario), vtn, token, name, site=site)
        while True:
            for r in asyncio.run(client.respond()):
                console.print(f"event {escape(r.event_id)}: baseline {r.baseline_mw.mean():,.1f} MW, drew "
                              f"{r.usage_mw.mean():,.1f} MW, delivered {r.delivered_mw.mean():,.1f} MW on average",
                              highlight=False)
            if not every_s:
                break
            time.sleep(every_s)
    except WattscaleError as exc:
        fail(exc)
    except Exception as exc:  # the VTN refused or could not be reached: say which and why, no traceback
        fail(WattscaleError(f"the VTN at {vtn[:100]} answered: {str(exc)[:300] or type(exc).__name__}",
                            field="--vtn", expected="a reachable OpenADR 3 VTN that knows this token"))
