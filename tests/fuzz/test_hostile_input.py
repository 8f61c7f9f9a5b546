"""Hostile input: schemathesis against both services' OpenAPI documents, as every role.

Each service's document is the one its app (built by `create_app(settings)`) serves. Cases
are drawn from it once per operation, valid and invalid (schemathesis's positive and
negative generation), plus bodies that cannot be parsed at all, and each is sent as every
role of a port: the parties of a release, the terminal, customs, port security, an
administrator, a carrier's dispatcher, a driver, and nobody. Path parameters are drawn, and
also taken from a real release made first, so that answers beyond 401/404 are judged too.
Every answer must be no 5xx and conform to the document: a documented status, the
documented content type, a body and headers matching the documented schema; invalid data
must be refused; a method a path does not take is 405 with `Allow`.

The budget is small in `make test` and the draw is fixed (the same cases every run, so a run
is repeatable); `KETENPAS_FUZZ_EXAMPLES=<n>` draws n cases per operation and generation mode,
afresh each run (`make fuzz`).
"""

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import hypothesis
import pytest
import requests
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, Phase, given
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err
from schemathesis.schemas import BaseSchema
from sqlmodel import col, select

from services.identity.credentials.models import Credential
from shared.db import transaction
from tests.conftest import SettingsFactory
from tests.fuzz.bridge import BASE_URL, bridged_session
from tests.identity.factories import bearer, client_token, make_party
from tests.release.chains import accept, create_release
from tests.release.port import Port, announce, make_port, new_container

_ON_DEMAND = os.environ.get("KETENPAS_FUZZ_EXAMPLES")
# Cases drawn per operation and generation mode (each sent as every role).
EXAMPLES = int(_ON_DEMAND) if _ON_DEMAND else 3

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]

# Our own settings, never a `schemathesis.toml` found on the way. Invalid data may also be
# refused as too large (413): the services limit bodies before they parse them.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    "400",
                    "401",
                    "403",
                    "404",
                    "405",
                    "406",
                    "409",
                    "413",
                    "415",
                    "422",
                    "428",
                    "429",
                    "5xx",
                ]
            }
        }
    }
)

# Bodies that are not what their media type says, or a media type the route does not take.
UNPARSEABLE: list[tuple[str, bytes]] = [
    ("application/json", b'{"container": '),
    ("application/json", b'{"container": "\xff"}'),
    ("application/x-www-form-urlencoded", b"a=%zz&&=\xff"),
    ("text/plain", b"plain words"),
]

Operation = APIOperation[Any, Any, Any, Any]
AnyCase = Case[Any]
Failed = tuple[str, str, str, int]  # check, operation, role, status


@dataclass
class Findings:
    """What the checks found, all of it: a failure is counted and the run goes on."""

    requests: int = 0
    failures: Counter[Failed] = field(default_factory=Counter)
    samples: dict[Failed, str] = field(default_factory=dict)

    def judge(self, case: AnyCase, response: schemathesis.Response, role: str) -> None:
        """Run the checks on one answer."""
        self.requests += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as exc:
            failures = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            for failure in failures:
                key = (failure.title, case.operation.label, role, response.status_code)
                self.failures[key] += 1
                if key not in self.samples:
                    # The curl command replays the case (tokens are filtered out of it).
                    self.samples[key] = (
                        f"{failure.message[:300]} | {response.text[:300]} | "
                        f"{case.as_curl_command(base_url=BASE_URL)}"
                    )

    def count(self, check: str, operation: str, role: str, status: int, sample: str) -> None:
        """A failure found by a check of our own."""
        key = (check, operation, role, status)
        self.failures[key] += 1
        self.samples.setdefault(key, sample)

    def report(self) -> str:
        """Totals per check, then one line per kind of failure with a sample."""
        by_check: Counter[str] = Counter()
        for (check, *_), count in self.failures.items():
            by_check[check] += count
        lines = [f"{self.failures.total()} failures in {self.requests} requests"]
        lines += [f"  {count:5d} {check}" for check, count in sorted(by_check.items())]
        for key, count in sorted(self.failures.items()):
            check, operation, role, status = key
            lines.append(f"  {count:4d} x {check} | {operation} | {role} | {status}")
            lines.append(f"         {self.samples[key]}")
        return "\n".join(lines)


@contextmanager
def running_port(make_settings: SettingsFactory) -> Iterator[tuple[BlockingPortal, Port]]:
    """The release port, running in a portal's event loop (schemathesis's calls are sync)."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(make_port(make_settings)) as port,
    ):
        yield portal, port


@dataclass
class Role:
    """How one role calls, and the values of path parameters that are its own."""

    headers: dict[str, str]
    known: dict[str, str]


async def roles_of(port: Port) -> dict[str, Role]:
    """Every role of the port, with a real chain to aim at; the administrator goes last."""
    chain = await create_release(port)
    await accept(port, chain, 0, "forwarder")
    entry = await announce(port, new_container())
    driver = await port.driver("carrier")
    async with transaction(port.identity.state.sessions) as session:
        credential = (
            await session.exec(
                select(Credential).where(col(Credential.party_id) == port["carrier"].id)
            )
        ).first()
    assert credential is not None
    admin = await make_party(port.identity, "admin", name="Port administration")
    shared: dict[str, str] = {
        "release_id": str(chain.release_id),
        "seq": "0",
        "kind": "customs",
        "person_id": str(driver.id),
        "kid": port["carrier"].kid,
        "entry_id": str(entry["entry_id"]),
        "credential_id": str(credential.id),
        "list_id": str(credential.status_list_id),
    }

    def role(headers: dict[str, str], party_id: str) -> Role:
        return Role(headers, {**shared, "party_id": party_id})

    return {
        "shipping_line": role(port["line"].headers, port["line"].id),
        "forwarder": role(port["forwarder"].headers, port["forwarder"].id),
        "carrier": role(port["carrier"].headers, port["carrier"].id),
        "terminal": role(port["terminal"].headers, port["terminal"].id),
        "customs": role(port["customs"].headers, port["customs"].id),
        "port_security": role(port["security"].headers, port["security"].id),
        # People sign in and sign through their party's custodial key.
        "dispatcher": role(await port.person_headers("carrier"), port["carrier"].id),
        "driver": role(await port.driver_headers("carrier", driver), port["carrier"].id),
        "nobody": role({}, port["line"].id),
        # Last, since an administrator may suspend what the others act as.
        "admin": role(bearer(await client_token(port.identity, admin)), admin.id),
    }


def drawn_cases(operation: Operation) -> list[AnyCase]:
    """Cases for one operation, valid and invalid, drawn once and then sent as every role."""
    cases: list[AnyCase] = []
    modes = [GenerationMode.POSITIVE]
    if _can_be_invalid(operation):
        modes.append(GenerationMode.NEGATIVE)
    for mode in modes:

        @hypothesis.settings(
            max_examples=EXAMPLES,
            database=None,
            derandomize=_ON_DEMAND is None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def draw(case: AnyCase) -> None:
            cases.append(case)

        draw()
    return cases


def _can_be_invalid(operation: Operation) -> bool:
    """Whether some input is invalid: a body, or a parameter that is more than a free string.

    For an operation whose only inputs are free path strings, Hypothesis would search at
    length for invalid data before it gives up (about a second per operation).
    """
    raw = operation.definition.raw
    if "requestBody" in raw:
        return True
    return any(
        param.get("in") != "path"
        or param.get("schema", {}).keys() - {"type", "title"}
        or param["schema"].get("type") != "string"
        for param in raw.get("parameters", [])
    )


def aimed(case: AnyCase, known: dict[str, str]) -> AnyCase | None:
    """A valid case with its path parameters replaced by the role's real ones, if it has any."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not case.path_parameters:
        return None
    path = {name: known.get(name, value) for name, value in case.path_parameters.items()}
    if path == case.path_parameters:
        return None
    return cast(
        AnyCase,
        case.operation.Case(
            path_parameters=path,
            query=case.query,
            headers=case.headers,
            cookies=case.cookies,
            body=case.body,
            media_type=case.media_type,
        ),
    )


def send_unparseable(
    operation: Operation,
    *,
    session: requests.Session,
    role: Role,
    name: str,
    findings: Findings,
) -> None:
    """Bodies that cannot be parsed as what they claim, or that claim a type not taken."""
    path = {param.name: role.known.get(param.name, "0") for param in operation.path_parameters}
    case = operation.Case(path_parameters=path)
    for media_type, body in UNPARSEABLE:
        answer = session.request(
            operation.method.upper(),
            BASE_URL + case.formatted_path,
            data=body,
            headers={**role.headers, "Content-Type": media_type},
        )
        findings.judge(case, schemathesis.Response.from_requests(answer, verify=False), name)


def _takes_a_token(operation: Operation) -> bool:
    """Whether the operation is documented to refuse a caller without a token (401)."""
    return "401" in operation.definition.raw.get("responses", {})


def send_unsupported_methods(
    operations: list[Operation], *, session: requests.Session, role: Role, findings: Findings
) -> None:
    """Per path, one method it does not take: 405, naming those it takes in `Allow`."""
    by_path: dict[str, list[Operation]] = {}
    for operation in operations:
        by_path.setdefault(operation.path, []).append(operation)
    for path, same_path in by_path.items():
        taken = {operation.method.upper() for operation in same_path}
        method = next(m for m in ("DELETE", "PUT", "PATCH", "POST", "GET") if m not in taken)
        case = same_path[0].Case(
            path_parameters={
                param.name: role.known.get(param.name, "0")
                for param in same_path[0].path_parameters
            }
        )
        answer = session.request(method, BASE_URL + case.formatted_path, headers=role.headers)
        findings.requests += 1
        allow = {m.strip() for m in answer.headers.get("allow", "").split(",")}
        if answer.status_code != 405 or not taken <= allow:
            findings.count(
                "Unsupported method not refused with 405 and Allow",
                f"{method} {path}",
                "nobody",
                answer.status_code,
                f"Allow: {answer.headers.get('allow')!r} | {answer.text[:300]}",
            )


def operations_of(schema: BaseSchema) -> list[Operation]:
    """Every operation of the document; one schemathesis cannot read fails the run."""
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    return operations


@pytest.mark.parametrize("service", ["identity", "release"])
def test_every_answer_as_every_role_is_documented_and_no_5xx(
    service: str, make_settings: SettingsFactory
) -> None:
    """Generated and unparseable requests as every role: no 5xx, each answer as documented."""
    findings = Findings()
    with running_port(make_settings) as (portal, port):
        app = port.identity if service == "identity" else port.release
        client = port.identity_client if service == "identity" else port.client
        schema = schemathesis.openapi.from_dict(app.openapi(), config=CONFIG)
        session = bridged_session(portal, client)
        roles = portal.call(roles_of, port)
        operations = [(operation, drawn_cases(operation)) for operation in operations_of(schema)]
        for name, role in roles.items():
            for operation, cases in operations:
                if name != "nobody" and not _takes_a_token(operation):
                    continue  # a public operation is the same for everyone: sent once
                for case in cases:
                    for sent in (case, aimed(case, role.known)):
                        if sent is not None:
                            answer = sent.call(
                                base_url=BASE_URL, session=session, headers=role.headers
                            )
                            findings.judge(sent, answer, name)
                if operation.body:
                    send_unparseable(
                        operation, session=session, role=role, name=name, findings=findings
                    )
        send_unsupported_methods(
            [operation for operation, _ in operations],
            session=session,
            role=roles["nobody"],
            findings=findings,
        )
    print(findings.report())  # the counts, also when the run is clean (pytest -s)
    assert not findings.failures, findings.report()
