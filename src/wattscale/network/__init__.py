"""Electrical networks on pandapower: power flow, contingencies, faults, restoration and reconfiguration."""
