"""The columns of a site's per-step results, named in one place and documented in one table.

Every column is a power in MW averaged over the step unless its name says otherwise. ``STEP_COLUMNS`` maps
each column (``<name>`` standing for a generator's, workload's or flexible workload's name) to its meaning;
the README's "Reading the results" section and a test keep to it.
"""
from __future__ import annotations

import re

STEP_COLUMNS: dict[str, str] = {
    "it_load_mw": "IT load (workloads plus any other IT)",
    "workload_<name>_it_mw": "IT load of one workload",
    "pue": "power usage effectiveness of the step",
    "load_mw": "facility load: IT load x PUE",
    "pv_mw": "PV available",
    "wind_mw": "wind available",
    "curtailed_mw": "renewables not used",
    "battery_charge_mw": "battery charging",
    "battery_discharge_mw": "battery discharging",
    "battery_soc_mwh": "battery energy at the end of the step (MWh)",
    "gen_<name>_mw": "one generator's output",
    "gen_<name>_starts": "starts of one generator in the step (count)",
    "gen_<name>_fuel_mmbtu": "fuel one generator burnt in the step (MMBtu)",
    "grid_import_mw": "grid import",
    "grid_export_mw": "grid export",
    "flex_available_mw": "facility power flexible workloads could shed",
    "movable_it_mw": "inference IT power that could move to another site",
    "shed_<name>_mw": "facility power shed from one flexible workload",
    "compute_lost_usd_per_h": "value of the compute given up (USD per hour)",
    "compute_shed_mw": "facility power shed from flexible compute, all workloads",
    "unserved_mw": "load not served",
    "dumped_mw": "surplus that could not be curtailed, exported or stored",
    "grid_available": "grid connected (true) or out",
    "import_limit_mw": "import limit (demand-response holds included)",
    "export_limit_mw": "export limit",
    "price_usd_per_mwh": "import price (USD/MWh)",
    "export_price_usd_per_mwh": "export price (USD/MWh)",
    "intensity_kg_per_mwh": "grid carbon intensity, location-based (kg CO2/MWh)",
    "grid_cfe_share": "carbon-free share of grid supply (fraction)",
    "temp_air_c": "outdoor air temperature (C)",
    "dr_hold_mw": "paid demand response: import above this forgoes the payment",
    "dr_payment_usd_per_mwh": "paid demand response: payment per MWh held (USD/MWh)",
}


def gen_mw(name: str) -> str:
    return f"gen_{name}_mw"


def gen_starts(name: str) -> str:
    return f"gen_{name}_starts"


def gen_fuel_mmbtu(name: str) -> str:
    return f"gen_{name}_fuel_mmbtu"


def workload_it_mw(name: str) -> str:
    return f"workload_{name}_it_mw"


def shed_mw(name: str) -> str:
    return f"shed_{name}_mw"


def documented(column: str) -> bool:
    """Whether ``column`` is one of ``STEP_COLUMNS`` (a ``<name>`` pattern matching any name)."""
    for pattern in STEP_COLUMNS:
        rx = "^" + re.escape(pattern).replace(re.escape("<name>"), ".+") + "$"
        if re.match(rx, column):
            return True
    return False
