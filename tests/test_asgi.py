"""The app factories uvicorn's worker processes call build each service from the environment."""

from pathlib import Path

import pytest

from services import asgi


@pytest.mark.parametrize("service", ["identity", "release"])
def test_a_worker_builds_its_service_from_the_environment(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"KETENPAS_{service.upper()}_"
    monkeypatch.setenv(f"{prefix}DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    monkeypatch.setenv(f"{prefix}PORT", "18999")
    app = getattr(asgi, service)()
    assert app.state.settings.service_name == service
    assert app.state.settings.port == 18999
    assert any(getattr(route, "path", "") == "/readyz" for route in app.routes)
