"""A small gate load for the fault tests: pickups that retry through an outage, and a ledger
of what the services acknowledged, to be checked against what they stored.

A pickup is what a terminal lane does: the driver's phone fetches a gate pass, the terminal
asks for a decision and, on `release`, confirms the gate-out. A request that fails (a 5xx, a
503 during an outage, a connection cut) is retried with a fresh gate pass, for at most
`RETRY_SECONDS`: that is a bound on the run, not a timing assertion.
"""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from services.identity.people.models import Person
from shared.audit.verify import verify_log
from tests.release.chains import Chain
from tests.release.port import Port

RETRY_SECONDS = 90.0
RETRY_PAUSE_SECONDS = 0.1


@dataclass
class Ledger:
    """What the services answered during the run."""

    decisions: dict[str, str] = field(default_factory=dict)  # acknowledged: id -> container
    completed: dict[str, str] = field(default_factory=dict)  # acknowledged gate-outs
    statuses: Counter[str] = field(default_factory=Counter)  # "<service> <status>"
    errors: Counter[str] = field(default_factory=Counter)  # exceptions instead of answers
    # The test's own shortcut to a signed-in driver writes to the identity database directly;
    # it fails during the outage too, but that is no answer of a service.
    helper_errors: Counter[str] = field(default_factory=Counter)
    # Set once `milestone` gate-outs are confirmed: the moment a test breaks something.
    milestone: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    succeeded_at: list[float] = field(default_factory=list)

    def note_success(self) -> None:
        """Remember when an answer was a success (for recovery times)."""
        self.succeeded_at.append(time.monotonic())

    def first_success_since(self, moment: float) -> float | None:
        """The first success at or after `moment`."""
        later = [t for t in self.succeeded_at if t >= moment]
        return min(later) if later else None

    def server_errors(self) -> dict[str, int]:
        """Answers with a 5xx other than 503 (an outage is 503; a 500 is a bug)."""
        return {
            key: count
            for key, count in self.statuses.items()
            if key.split()[1].startswith("5") and key.split()[1] != "503"
        }


async def _call(
    ledger: Ledger, service: str, request: Any, *args: Any, **kwargs: Any
) -> httpx.Response | None:
    """One request; None when it raised instead of answering."""
    try:
        response: httpx.Response = await request(*args, **kwargs)
    except Exception as exc:  # an outage may surface as any transport or driver error
        ledger.errors[f"{service} {type(exc).__name__}"] += 1
        return None
    ledger.statuses[f"{service} {response.status_code}"] += 1
    return response


async def _gate_pass(port: Port, carrier: str, driver: Person, ledger: Ledger) -> str | None:
    """A gate pass fetched on the driver's phone; None when the identity service failed."""
    try:
        headers = await port.driver_headers(carrier, driver)
    except Exception as exc:  # signing in goes through the identity database too
        ledger.helper_errors[f"sign-in {type(exc).__name__}"] += 1
        return None
    response = await _call(
        ledger,
        "identity",
        port.identity_client.post,
        f"/v1/people/{driver.id}/gate-pass",
        headers=headers,
    )
    if response is None or response.status_code != 200:
        return None
    token: str = response.json()["gate_pass"]
    return token


async def pickup(
    port: Port, client: httpx.AsyncClient, chain: Chain, ledger: Ledger, *, carrier: str
) -> None:
    """Take the container out, retrying through failures until the gate-out is confirmed."""
    assert chain.driver is not None
    deadline = time.monotonic() + RETRY_SECONDS
    decision_id: str | None = None
    while time.monotonic() < deadline:
        if decision_id is None:
            proof = await _gate_pass(port, carrier, chain.driver, ledger)
            if proof is None:
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                continue
            response = await _call(
                ledger,
                "release",
                client.post,
                "/v1/gate/decisions",
                json={"container": chain.container, "gate_pass": proof},
                headers=port["terminal"].headers,
            )
            if response is not None and response.status_code == 201:
                body = response.json()
                ledger.note_success()
                if body["decision"] == "release":
                    decision_id = str(body["decision_id"])
                    ledger.decisions[decision_id] = chain.container
                    continue
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
            continue
        response = await _call(
            ledger,
            "release",
            client.post,
            f"/v1/gate/decisions/{decision_id}/complete",
            headers=port["terminal"].headers,
        )
        if response is not None and response.status_code == 200:
            ledger.note_success()
            ledger.completed[decision_id] = chain.container
            if len(ledger.completed) >= ledger.milestone:
                ledger.reached.set()
            return
        if response is not None and response.status_code == 409:
            # Completed by the attempt whose answer was lost, or the decision went stale:
            # the stored state decides, checked by the test afterwards.
            code = response.json().get("code")
            if code == "already_completed":
                return
            decision_id = None
        await asyncio.sleep(RETRY_PAUSE_SECONDS)
    raise AssertionError(f"{chain.container} was not taken out within {RETRY_SECONDS} s")


async def run_lanes(
    port: Port, client: httpx.AsyncClient, chains: list[Chain], ledger: Ledger, *, lanes: int
) -> None:
    """Take every chain's container out over `lanes` concurrent terminal lanes."""
    waiting = list(chains)

    async def lane() -> None:
        while waiting:
            await pickup(port, client, waiting.pop(0), ledger, carrier="carrier")

    await asyncio.gather(*(lane() for _ in range(lanes)))


async def stored(port: Port, sql: str) -> list[Any]:
    """Rows of the release database, read fresh."""
    async with port.release.state.engine.connect() as connection:
        return list((await connection.execute(text(sql))).all())


async def check_nothing_lost(port: Port, ledger: Ledger, chains: list[Chain]) -> None:
    """Every acknowledged answer is stored and audited; no container left twice."""
    decisions = {str(row[0]) for row in await stored(port, "SELECT id FROM gate_decisions")}
    assert set(ledger.decisions) <= decisions, "an acknowledged decision was lost"
    gate_outs = await stored(port, "SELECT decision_id, release_id FROM gate_outs")
    out_decisions = {str(row[0]) for row in gate_outs}
    assert set(ledger.completed) <= out_decisions, "an acknowledged gate-out was lost"
    released = Counter(str(row[1]) for row in gate_outs)
    assert all(count == 1 for count in released.values()), "a container left twice"
    picked = await stored(port, "SELECT id FROM releases WHERE status = 'picked_up'")
    picked_up = {str(row[0]) for row in picked}
    assert picked_up == {str(chain.release_id) for chain in chains}
    audited = await stored(
        port,
        "SELECT event FROM audit_events WHERE event_type IN ('gate.decided', 'gate.completed')",
    )
    text_of_events = "\n".join(str(row[0]) for row in audited)
    for decision_id in set(ledger.decisions) | set(ledger.completed):
        assert decision_id in text_of_events, f"decision {decision_id} has no audit event"


async def verified_log_size(port: Port) -> int:
    """Wait until the sequencer integrated and signed every event, then verify the whole
    log end to end (tiles, checkpoint, every stored event against its entry); its size."""
    size = await until_log_integrates_everything(port)
    settings = port.release.state.settings
    report = await verify_log(
        "http://testserver",
        port.release.state.audit_log.verifier_key,
        database_url=settings.database_url,
        database_schema=settings.database_schema,
        transport=httpx.ASGITransport(app=port.release),
    )
    assert report.size == size
    return size


async def until_log_integrates_everything(port: Port) -> int:
    """Wait (bounded) until the sequencer has integrated and signed every event; the size."""
    deadline = time.monotonic() + RETRY_SECONDS
    while time.monotonic() < deadline:
        pending = await stored(port, "SELECT count(*) FROM audit_events WHERE log_index IS NULL")
        signed = await stored(port, "SELECT max(size) FROM audit_checkpoints")
        total = await stored(port, "SELECT count(*) FROM audit_events")
        if pending[0][0] == 0 and signed[0][0] == total[0][0]:
            return int(total[0][0])
        port.release.state.sequencer.wake()
        await asyncio.sleep(RETRY_PAUSE_SECONDS)
    raise AssertionError(f"the sequencer did not sign every event within {RETRY_SECONDS} s")
