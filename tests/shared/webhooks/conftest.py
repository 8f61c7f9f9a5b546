"""Fixtures of the webhook building blocks' tests."""

from pathlib import Path

import pytest

from tests.shared.webhooks.tls import Authority, make_ca


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    """A throw-away certificate authority for HTTPS receivers."""
    return make_ca(tmp_path)
