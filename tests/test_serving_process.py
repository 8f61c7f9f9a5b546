"""What a serving process does before it serves: open its connection pool, freeze its heap."""

import gc
from collections.abc import Iterator

import pytest

from services.registry import SERVICES
from shared.db import is_sqlite, warm_pool
from shared.web import freeze_startup_heap
from tests.conftest import ON_POSTGRES, SettingsFactory, running


async def test_the_pool_is_opened_at_startup_when_asked(make_settings: SettingsFactory) -> None:
    if not ON_POSTGRES:
        pytest.skip("needs PostgreSQL (runs in the PostgreSQL pass)")
    settings = make_settings("release", database_pool_size=3, database_pool_warm=True)
    app = SERVICES["release"].create_app(settings)
    async with running(app) as client:
        # Three connections wait in the pool before the first request needs one.
        assert app.state.engine.pool.checkedin() == 3
        assert (await client.get("/readyz")).status_code == 200
        assert app.state.engine.pool.checkedin() == 3  # and are used, not added to


async def test_warming_opens_exactly_the_pool_size(make_settings: SettingsFactory) -> None:
    if not ON_POSTGRES:
        pytest.skip("needs PostgreSQL (runs in the PostgreSQL pass)")
    settings = make_settings("release", database_pool_size=4, database_pool_warm=False)
    app = SERVICES["release"].create_app(settings)
    async with running(app):
        engine = app.state.engine
        assert engine.pool.checkedin() == 0  # not warmed: nothing opened yet
        assert await warm_pool(engine) == 4
        assert engine.pool.checkedin() == 4


async def test_nothing_is_opened_ahead_on_sqlite(make_settings: SettingsFactory) -> None:
    if ON_POSTGRES:
        pytest.skip("the embedded default only")
    app = SERVICES["release"].create_app(make_settings("release"))
    async with running(app):
        assert is_sqlite(app.state.engine)
        assert await warm_pool(app.state.engine) == 0


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # give the test process's objects back to the collector


@pytest.mark.usefixtures("unfrozen")
def test_the_startup_heap_is_frozen_out_of_full_collections() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    assert gc.get_objects(generation=2)
    freeze_startup_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_objects(generation=2) == []  # nothing left for a full collection to walk
