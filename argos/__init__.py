"""Argos: crypto market microstructure, from exchange trades to order-flow dashboards."""

__version__ = "0.1.0"
