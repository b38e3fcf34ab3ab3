"""Argos dashboards: one panel definition, rendered as Grafana JSON and as the embedded HTML page."""
