"""Fixtures of the web front end's tests (tests/web/port.py)."""

from tests.web.port import web_port as web_port  # re-exported fixture

__all__ = ["web_port"]
