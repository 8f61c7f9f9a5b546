"""What the services count: latency per route template, gate decisions and draws, the audit
log's sequencer, the identity cache, the database pool."""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.registry import SERVICES
from services.release.fetched_documents import FetchedDocuments
from services.release.identity_errors import IdentityUnavailable
from shared.audit.events import append
from shared.db import transaction
from tests.conftest import SettingsFactory, running
from tests.observability.metrics_helpers import value
from tests.release.chains import ask_gate, full_chain, gate_pass
from tests.release.port import make_port, new_container

DURATION = "ketenpas_http_request_duration_seconds_count"
DRAWS = "ketenpas_inspection_draws_total"
# Any port but the public one: the app only needs to know that metrics are on.
METRICS_ON = {"metrics_port": 9999}


@pytest.fixture
async def measured(make_settings: SettingsFactory) -> AsyncIterator[httpx.AsyncClient]:
    app = SERVICES["release"].create_app(make_settings("release", **METRICS_ON))
    async with running(app) as client:
        yield client


async def test_latency_is_observed_by_route_template_never_by_raw_path(
    measured: httpx.AsyncClient,
) -> None:
    route = {"method": "GET", "route": "/v1/releases/{release_id}", "status": "401"}
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    before, before_unmatched = value(DURATION, **route), value(DURATION, **unmatched)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for release_id in ids:
        assert (await measured.get(f"/v1/releases/{release_id}")).status_code == 401
    for release_id in ids:
        assert (await measured.get(f"/made/up/{release_id}")).status_code == 404
    assert value(DURATION, **route) - before == 3
    assert value(DURATION, **unmatched) - before_unmatched == 3
    exposed = _exposition()
    assert not [release_id for release_id in ids if release_id in exposed]


async def test_a_method_made_up_by_a_client_is_one_series(measured: httpx.AsyncClient) -> None:
    labels = {"method": "other", "route": "/v1/releases/{release_id}", "status": "405"}
    before = value(DURATION, **labels)
    for method in ("BREW", "WHEN", "XYZZY"):
        response = await measured.request(method, f"/v1/releases/{uuid.uuid4()}")
        assert response.status_code == 405
    assert value(DURATION, **labels) - before == 3
    assert "BREW" not in _exposition()


async def test_without_a_metrics_port_requests_are_not_timed(
    make_settings: SettingsFactory,
) -> None:
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    app = SERVICES["identity"].create_app(make_settings("identity"))
    assert app.state.settings.metrics_port == 0
    async with running(app) as client:
        before = value(DURATION, **labels)
        assert (await client.get("/healthz")).status_code == 200
        assert value(DURATION, **labels) == before


async def test_gate_decisions_are_counted_by_decision_and_reason(
    make_settings: SettingsFactory,
) -> None:
    denied = {"decision": "deny", "reason": "no_open_release"}
    async with make_port(make_settings, inspect_probability=0.0) as port:
        chain = await full_chain(port, path=("forwarder", "carrier"))
        assert chain.driver is not None
        before = {
            "release": value("ketenpas_gate_decisions_total", decision="release"),
            "deny": value("ketenpas_gate_decisions_total", decision="deny"),
            "reason": value("ketenpas_gate_decision_reasons_total", **denied),
            "drawn": value(
                "ketenpas_inspection_draws_total", purpose="container", selected="false"
            ),
        }
        token = await gate_pass(port, "carrier", chain.driver)
        assert (await ask_gate(port, chain.container, gate_pass=token))["decision"] == "release"
        token = await gate_pass(port, "carrier", chain.driver)
        assert (await ask_gate(port, new_container(), gate_pass=token))["decision"] == "deny"
    assert value("ketenpas_gate_decisions_total", decision="release") - before["release"] == 1
    assert value("ketenpas_gate_decisions_total", decision="deny") - before["deny"] == 1
    assert value("ketenpas_gate_decision_reasons_total", **denied) - before["reason"] == 1
    # Only the decision that would release drew (and, at probability 0, did not select).
    drawn = value(DRAWS, purpose="container", selected="false")
    assert drawn - before["drawn"] == 1


async def test_the_sequencer_exports_the_logs_size_and_when_it_caught_up(
    make_settings: SettingsFactory,
) -> None:
    app = SERVICES["release"].create_app(make_settings("release"))
    async with running(app):
        async with transaction(app.state.sessions) as session:
            for number in range(3):
                await append(session, "test.event", {"n": number})
        caught_up = value("ketenpas_audit_sequencer_caught_up_timestamp_seconds")
        integrated = value("ketenpas_audit_events_integrated_total")
        assert await app.state.sequencer.run_once() == 3
        size = await _log_size(app)
        assert value("ketenpas_audit_log_size") == size >= 3
        assert value("ketenpas_audit_events_integrated_total") - integrated == 3
        assert value("ketenpas_audit_sequencer_caught_up_timestamp_seconds") > caught_up


async def test_a_refused_step_is_no_sign_of_a_sequencer_that_caught_up(
    make_settings: SettingsFactory,
) -> None:
    app = SERVICES["release"].create_app(make_settings("release"))
    async with running(app):
        await app.state.sequencer.run_once()
        caught_up = value("ketenpas_audit_sequencer_caught_up_timestamp_seconds")
        refused = value("ketenpas_audit_signing_refused_total")
        app.state.sequencer.guard.alarm = "a test's alarm"  # the tree is not to be trusted
        await app.state.sequencer.run_once()
        assert value("ketenpas_audit_signing_refused_total") > refused
        assert value("ketenpas_audit_sequencer_caught_up_timestamp_seconds") == caught_up


async def _log_size(app: FastAPI) -> int:
    from shared.audit import repository

    async with transaction(app.state.sessions) as session:
        size, _ = await repository.load_state(session)
    return size


async def test_identity_fetches_failures_and_failing_closed_are_counted() -> None:
    up = True

    def identity(request: httpx.Request) -> httpx.Response:
        if not up:
            raise httpx.ConnectError("away", request=request)
        return httpx.Response(200, json={"keys": []})

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(identity), base_url="http://identity.test"
    ) as client:
        documents = FetchedDocuments(client, refresh_seconds=0, max_staleness_seconds=3600)
        ok = value("ketenpas_identity_fetches_total", outcome="ok")
        failed = value("ketenpas_identity_fetches_total", outcome="failed")
        closed = value("ketenpas_identity_unavailable_total")
        last = value("ketenpas_identity_last_fetch_timestamp_seconds")
        await documents.get("/keys", lambda response: response.json())
        assert value("ketenpas_identity_fetches_total", outcome="ok") - ok == 1
        assert value("ketenpas_identity_last_fetch_timestamp_seconds") >= max(last, 1)
        last = value("ketenpas_identity_last_fetch_timestamp_seconds")
        up = False
        await documents.get("/keys", lambda response: response.json())  # the held copy serves
        assert value("ketenpas_identity_fetches_total", outcome="failed") - failed == 1
        assert value("ketenpas_identity_unavailable_total") == closed
        with pytest.raises(IdentityUnavailable):
            await documents.get("/other", lambda response: response.json())  # none held
        assert value("ketenpas_identity_fetches_total", outcome="failed") - failed == 2
        assert value("ketenpas_identity_unavailable_total") - closed == 1
        assert value("ketenpas_identity_last_fetch_timestamp_seconds") == last


async def test_connections_in_use_are_counted_until_returned(
    make_settings: SettingsFactory,
) -> None:
    app = SERVICES["release"].create_app(make_settings("release"))
    limit = value("ketenpas_db_pool_connections_limit")
    async with running(app):
        assert value("ketenpas_db_pool_connections_limit") > limit
        idle = value("ketenpas_db_pool_connections_in_use")
        async with transaction(app.state.sessions) as session:
            await session.connection()
            assert value("ketenpas_db_pool_connections_in_use") == idle + 1
        assert value("ketenpas_db_pool_connections_in_use") == idle
    assert value("ketenpas_db_pool_connections_limit") == limit


def _exposition() -> str:
    from prometheus_client import generate_latest

    return generate_latest().decode()
