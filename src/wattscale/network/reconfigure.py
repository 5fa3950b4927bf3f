"""Loss-minimising reconfiguration under the radial constraint: a branch-exchange search over switch states.

Each round tries, for every open tie or sectionaliser, closing it and opening one closed switch on the loop
it makes (so the network stays radial), runs the power flow, and keeps the best exchange that lowers losses
within limits; it stops when no exchange helps.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wattscale.network.build import Network
from wattscale.network.flow import FlowSummary, solve
from wattscale.network.topology import is_radial, loop_switches, switch_graph


@dataclass
class Reconfiguration:
    network: Network  # the reconfigured network (solved)
    losses_before_mw: float
    losses_after_mw: float
    opened: list[str]  # switches open after, closed before
    closed: list[str]  # switches closed after, open before
    open_after: list[str]
    power_flows: int
    rounds: int


def reconfigure(network: Network, *, max_rounds: int = 50,
                progress: Callable[[int], None] | None = None) -> Reconfiguration:
    """Branch exchange from the current configuration (which must be radial)."""
    work = network.copy()
    net, g = work.net, switch_graph(work)
    best = solve(work)
    start_losses, flows, rounds = best.losses_mw, 1, 0
    before = net.switch.closed.copy()
    operable = net.switch.kind.isin(["sectionaliser", "tie"])
    for rounds in range(1, max_rounds + 1):
        choice: tuple[float, int, int, FlowSummary] | None = None
        for tie in net.switch.index[operable & ~net.switch.closed]:
            for out in loop_switches(work, g, tie):
                net.switch.loc[[tie, out], "closed"] = [True, False]
                try:
                    s = solve(work)
                    flows += 1
                    if s.ok and s.losses_mw < (choice[0] if choice else best.losses_mw) - 1e-9:
                        choice = (s.losses_mw, tie, out, s)
                except Exception:  # noqa: BLE001 - a candidate that does not converge is simply not taken
                    flows += 1
                net.switch.loc[[tie, out], "closed"] = [False, True]
        if progress:
            progress(1)
        if choice is None:
            break
        _, tie, out, best = choice
        net.switch.loc[[tie, out], "closed"] = [True, False]
    solve(work)
    assert is_radial(work, g)
    after = net.switch.closed
    name = net.switch.name
    return Reconfiguration(network=work, losses_before_mw=start_losses, losses_after_mw=best.losses_mw,
                           opened=sorted(name[before & ~after], key=_natural),
                           closed=sorted(name[~before & after], key=_natural),
                           open_after=sorted(name[~after], key=_natural), power_flows=flows, rounds=rounds)


def _natural(text: str):
    digits = "".join(c for c in text if c.isdigit())
    return (text.rstrip("0123456789"), int(digits) if digits else 0, text)
