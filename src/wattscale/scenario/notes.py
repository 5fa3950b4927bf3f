"""What a scenario leaves to built-in defaults, said out loud: the bundled weather of Greensboro, NC, and
month-by-hour profiles of one market, which may not be where the site is."""
from __future__ import annotations

import math

from wattscale.scenario.schema import DefaultSeries, Scenario

GREENSBORO = (36.1, -79.95)  # the bundled pvlib TMY3 station (723170)
FAR_KM = 300.0


def default_notes(scenario: Scenario) -> list[str]:
    """One sentence per site and default it relies on."""
    notes = []
    for site in scenario.sites:
        if site.weather == "default":
            where = ""
            if site.location is not None:
                km = distance_km((site.location.latitude, site.location.longitude), GREENSBORO)
                where = f", {km:,.0f} km from the site" if km > FAR_KM else ""
            notes.append(f"site {site.name}: weather is the bundled typical year of Greensboro, NC{where} "
                         "(set 'weather:' to a file for the site's own)")
        g = site.grid
        used = {name: getattr(g, name).default for name in ("price_usd_per_mwh", "intensity_kg_per_mwh", "cfe_share")
                if isinstance(getattr(g, name), DefaultSeries)}
        if used:
            listed = ", ".join(f"{name} = {profile}" for name, profile in used.items())
            notes.append(f"site {site.name}: grid series from built-in 2023 profiles ({listed}); "
                         "'wattscale defaults' lists the others")
    return notes


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    (la1, lo1), (la2, lo2) = (map(math.radians, a)), (map(math.radians, b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
