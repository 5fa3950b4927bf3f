"""Physics of site energy assets: PV, wind, battery, generators, grid connection and facility cooling."""
