"""HTML network diagrams (plotly): buses coloured by voltage and lines by loading, or by what a fault did."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from wattscale.network.build import Network

STATUS_COLOUR = {"unaffected": "#4c78a8", "restored": "#54a24b", "islanded": "#f58518", "lost": "#e45756",
                 "faulted": "#000000"}


def layout(network: Network) -> dict[int, tuple[float, float]]:
    """Bus positions: a tree drawn from the grid source (depth across, leaves down)."""
    net = network.net
    g = nx.Graph()
    g.add_nodes_from(net.bus.index)
    g.add_edges_from(zip(net.line.from_bus, net.line.to_bus))
    g.add_edges_from(zip(net.trafo.hv_bus, net.trafo.lv_bus))
    root = int(net.ext_grid.bus.iloc[0])
    tree = nx.bfs_tree(g, root)
    pos, next_y = {}, [0.0]

    def place(node, depth):
        kids = list(tree.successors(node))
        if not kids:
            pos[node] = (depth, next_y[0])
            next_y[0] += 1
            return
        for k in kids:
            place(k, depth + 1)
        pos[node] = (depth, float(np.mean([pos[k][1] for k in kids])))

    place(root, 0)
    for b in net.bus.index:  # anything the tree missed
        pos.setdefault(int(b), (0, next_y[0]))
    return pos


def diagram(network: Network, *, title: str, bus_colour: dict[int, str] | None = None,
            faulted: str | None = None) -> go.Figure:
    """Lines (solid closed, dotted open switch) coloured by loading; buses by voltage or ``bus_colour``."""
    net = network.net
    pos = layout(network)
    fig = go.Figure()
    open_elems = {(r.et, int(r.element)) for r in net.switch.itertuples() if not r.closed}
    loading = net.res_line.loading_percent if "loading_percent" in net.res_line else pd.Series(dtype=float)
    for et, table, ends in (("l", "line", ("from_bus", "to_bus")), ("t", "trafo", ("hv_bus", "lv_bus"))):
        for i, row in net[table].iterrows():
            a, b = pos[int(row[ends[0]])], pos[int(row[ends[1]])]
            is_open = (et, int(i)) in open_elems or not row.in_service
            value = loading.get(i, np.nan) if table == "line" else np.nan
            colour = ("#000000" if faulted == row["name"] else
                      "#bbbbbb" if is_open or np.isnan(value) else _ramp(value / network.limits.max_loading_percent))
            label = f"{table} {row['name']}" + ("" if np.isnan(value) else f": {value:.1f} %") + \
                    (" (open)" if is_open else "")
            fig.add_trace(go.Scatter(x=[a[0], b[0]], y=[a[1], b[1]], mode="lines", hoverinfo="text", text=label,
                                     line={"color": colour, "width": 5 if faulted == row["name"] else 3,
                                           "dash": "dot" if is_open else "solid"}, showlegend=False))
    vm = net.res_bus.vm_pu.reindex(net.bus.index) if len(net.res_bus) else pd.Series(np.nan, net.bus.index)
    colours = [bus_colour.get(int(b), "#4c78a8") if bus_colour else
               ("#bbbbbb" if np.isnan(vm[b]) else _voltage_colour(vm[b], network)) for b in net.bus.index]
    text = [f"bus {net.bus.name[b]}: " + ("dead" if np.isnan(vm[b]) else f"{vm[b]:.4f} pu") for b in net.bus.index]
    fig.add_trace(go.Scatter(x=[pos[int(b)][0] for b in net.bus.index], y=[pos[int(b)][1] for b in net.bus.index],
                             mode="markers+text", text=[str(n) for n in net.bus.name], hovertext=text,
                             hoverinfo="text", textposition="top center",
                             marker={"size": 12, "color": colours, "line": {"width": 1, "color": "#333"}},
                             showlegend=False))
    if bus_colour:
        for status, colour in STATUS_COLOUR.items():
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=status,
                                     marker={"size": 12, "color": colour}))
    limit = network.limits.max_loading_percent
    fig.add_trace(go.Scatter(  # the scale the lines are coloured on (the trace itself draws nothing)
        x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
        marker={"color": [0.0], "cmin": 0.0, "cmax": limit, "showscale": True,
                "colorscale": [[k / 4, _ramp(k / 4)] for k in range(5)],
                "colorbar": {"title": {"text": f"line loading (%)<br>red: at or above<br>the {limit:g} % limit"},
                             "x": 1.02, "y": 0.0, "yanchor": "bottom", "len": 0.5, "thickness": 14}}))
    fig.update_layout(title=title, height=max(420, 28 * len(set(p[1] for p in pos.values()))),
                      xaxis={"visible": False}, yaxis={"visible": False, "autorange": "reversed"},
                      plot_bgcolor="white", margin={"l": 20, "r": 20, "t": 60, "b": 20})
    return fig


def _ramp(x: float) -> str:
    """Green (0) to amber to red (>= 1) for a loading fraction."""
    x = float(np.clip(x, 0, 1))
    r, g = (int(255 * min(1, 2 * x)), int(200 * min(1, 2 * (1 - x))))
    return f"rgb({r},{g},60)"


def _voltage_colour(vm: float, network: Network) -> str:
    lo, hi = network.limits.vm_min_pu, network.limits.vm_max_pu
    if vm < lo or vm > hi:
        return "#e45756"
    return _ramp(abs(vm - 1.0) / max(1.0 - lo, hi - 1.0))
