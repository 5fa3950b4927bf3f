"""Forecasts of the series a controller plans with."""
