"""Protective monitoring shared by both services: alerts, their lifecycle, rules and the stream."""
