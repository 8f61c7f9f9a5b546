"""What a role of a party may do in the release service, read off the service's own routes.

There is no table of rights to keep up to date: the report walks the app's routes and asks
each route's own guards whether a stand-in caller of the role would pass: every dependency
that judges the caller alone (`deps.require(scope, *party_roles)`, which admits by the
caller's party roles and `auth.allows`). A route
that admits every caller and decides in its handler by the caller's relation to the data
has its rule named in RELATION_RULES, each a function of this service's that the handler
itself calls; a route with no rule here is reported as decided by its handler, so a new
route is never left out of a report (tests/release/test_exposure.py fails until it has a
rule).
"""

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from services.release.auth import Caller
from services.release.chain.models import Link, LinkKind
from services.release.chain.service import may_answer
from services.release.exposure.schemas import RightView
from services.release.exposure.service import is_port_security, may_read_exposure
from services.release.inspections.endpoints import _terminal_of
from services.release.investigations.endpoints import _port_security
from services.release.releases.repository import OVERSEERS
from services.release.webhooks.service import may_manage
from shared.auth import Principal
from shared.monitoring.auth import check_officer, check_reader
from shared.problems import Problem


@dataclass(frozen=True)
class Guard:
    """A dependency that judges the caller alone, and the name it takes him by."""

    call: Callable[..., Any]
    caller_param: str


#: The dependency that verifies the caller (a route without it is public), and the one that
#: hands his principal to the shared alerts router (services/release/alerts/endpoints.py):
#: the caller again, not a guard.
CALLER_DEPENDENCIES = frozenset({"get_caller", "caller_principal"})

#: What a relation rule answers: None (refused), or how far the right reaches.
Reach = str | None


@dataclass(frozen=True)
class _LinkTo:
    """The two members of a link `chain.service.may_answer` judges by."""

    kind: str
    to: str


def _link_to(kind: str, to: str) -> Link:
    # A stand-in, not a row: may_answer reads only `kind` and `to`.
    return cast(Link, _LinkTo(kind=kind, to=to))


def _answers_links(caller: Caller) -> Reach:
    """Accept or decline a link: its receiving party under `chain:write`, or the driver
    named in an assignment (`chain.service.may_answer`)."""
    if may_answer(caller, _link_to(LinkKind.handover, caller.party_id)):
        return "links_to_its_party"
    if caller.principal.person_id is not None:
        own = _link_to(LinkKind.assignment, str(caller.principal.person_id))
        if may_answer(caller, own):
            return "his_own_assignments"
    return None


def _sees_inspections(caller: Caller) -> Reach:
    """Inspections: customs and port security all, a terminal's gate its own."""
    try:
        terminal = _terminal_of(caller)
    except Problem:
        return None
    return "all" if terminal is None else "its_terminal"


def _reads_exposure(caller: Caller) -> Reach:
    """The exposure report: port security every party's, an administrator his own."""
    if is_port_security(caller):
        return "all_parties"
    return "its_party" if may_read_exposure(caller, caller.party_id) else None


def _judged_by(check: Callable[[Principal], Principal]) -> Callable[[Caller], Reach]:
    """A rule that admits whom `check` (shared.monitoring.auth) lets through, to all of it."""

    def rule(caller: Caller) -> Reach:
        try:
            check(caller.principal)
        except Problem:
            return None
        return "all"

    rule.__doc__ = f"Whoever `{check.__name__}` admits."
    return rule


def _manages_subscriptions(caller: Caller) -> Reach:
    """Webhook subscriptions: the party's own, by its admins and its client with the scope
    (`webhooks.service.may_manage`, which the handlers call)."""
    try:
        may_manage(caller)
    except Problem:
        return None
    return "its_party"


#: The yearly figures and the alerts: port security's readers; deciding: its officers.
_reads_figures = _reads_alerts = _judged_by(check_reader)
_decides_alerts = _judged_by(check_officer)


def _asks_who_knew(caller: Caller) -> Reach:
    """Who knew of a container: port security (`investigations.endpoints`' own check)."""
    return "all" if _port_security(caller) else None


#: (method, path) of a route that decides in its handler -> the rule it decides by.
RELATION_RULES: dict[tuple[str, str], Callable[[Caller], Reach]] = {
    ("POST", "/v1/releases/{release_id}/links/{seq}/accept"): _answers_links,
    ("POST", "/v1/releases/{release_id}/links/{seq}/decline"): _answers_links,
    ("GET", "/v1/inspections"): _sees_inspections,
    ("GET", "/v1/inspections/{inspection_id}"): _sees_inspections,
    ("GET", "/v1/parties/{party_id}/exposure"): _reads_exposure,
    ("GET", "/v1/figures/{year}"): _reads_figures,
    ("GET", "/v1/investigations/containers/{container}/who-knew"): _asks_who_knew,
    ("POST", "/v1/subscriptions"): _manages_subscriptions,
    ("GET", "/v1/subscriptions"): _manages_subscriptions,
    ("GET", "/v1/subscriptions/{subscription_id}"): _manages_subscriptions,
    ("DELETE", "/v1/subscriptions/{subscription_id}"): _manages_subscriptions,
    ("GET", "/v1/subscriptions/{subscription_id}/deliveries"): _manages_subscriptions,
    ("POST", "/v1/subscriptions/{subscription_id}/replay"): _manages_subscriptions,
    (
        "POST",
        "/v1/subscriptions/{subscription_id}/deliveries/{delivery_id}/replay",
    ): _manages_subscriptions,
    # The alerts' router judges the caller in a dependency that also records a refusal
    # (shared.monitoring.endpoints), by these same checks.
    ("GET", "/v1/alerts"): _reads_alerts,
    ("GET", "/v1/alerts/stream"): _reads_alerts,
    ("GET", "/v1/alerts/{alert_id}"): _reads_alerts,
    ("GET", "/v1/monitoring/rules"): _reads_alerts,
    ("POST", "/v1/alerts/{alert_id}/acknowledge"): _decides_alerts,
    ("POST", "/v1/alerts/{alert_id}/close"): _decides_alerts,
    ("PUT", "/v1/monitoring/rules/{name}"): _decides_alerts,
}
#: The areas whose routes show releases by need-to-know (`release_reach`).
RELEASE_AREAS = frozenset({"releases", "chain"})
#: What a right reaches when its handler decides and no rule above names how.
DECIDED_IN_HANDLER = "decided_in_handler"


@dataclass(frozen=True)
class Route:
    """A route that needs a caller, and the guards FastAPI runs before its handler."""

    method: str
    path: str
    summary: str
    area: str
    guards: tuple[Guard, ...]

    @property
    def action(self) -> str:
        """`read` for GET, `write` for anything that can change state."""
        return "read" if self.method == "GET" else "write"


@dataclass(frozen=True)
class Right:
    """One thing a role may do: a route it passes, and how far it reaches."""

    route: Route
    # None: the route scopes what it shows itself (a terminal's own gate decisions, ...).
    reach: str | None


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _walk(dependency)


def _area(path: str, tags: list[Any]) -> str:
    # Holds are routes of the releases area, but an employer asks about them by name.
    if "/holds/" in path:
        return "holds"
    return str(tags[0]) if tags else ""


def _is_caller(dependant: Dependant) -> bool:
    return getattr(dependant.call, "__name__", "") in CALLER_DEPENDENCIES


def _is_guard(dependant: Dependant) -> bool:
    """A dependency of the caller alone (no path, query, body, session): it can only judge
    him, so it is a guard (`deps.require`'s check, the alerts' port-security reader, ...)."""
    own = (
        dependant.path_params,
        dependant.query_params,
        dependant.header_params,
        dependant.cookie_params,
        dependant.body_params,
    )
    return (
        not any(own)
        and len(dependant.dependencies) == 1
        and _is_caller(dependant.dependencies[0])
        and dependant.request_param_name is None
    )


def caller_routes(app: FastAPI) -> list[Route]:
    """Every route of the app that needs a verified caller, in the app's order."""
    routes = []
    for context in iter_route_contexts(app.routes):
        original = context.original_route
        if not isinstance(original, APIRoute):
            continue
        dependants = list(_walk(context.dependant))
        if not any(_is_caller(d) for d in dependants):
            continue
        guards = tuple(
            Guard(call=d.call, caller_param=d.dependencies[0].name or "caller")
            for d in dependants
            if d.call is not None and _is_guard(d) and not _is_caller(d)
        )
        path = context.path_format or original.path
        for method in sorted(context.methods or ()):
            routes.append(
                Route(
                    method=method,
                    path=path,
                    summary=original.summary or original.name,
                    area=_area(path, original.tags),
                    guards=guards,
                )
            )
    return routes


async def passes(guard: Guard, caller: Caller) -> bool:
    """Whether the route's own guard admits the caller."""
    try:
        judged = guard.call(**{guard.caller_param: caller})
        if inspect.isawaitable(judged):
            await judged
    except Problem:
        return False
    return True


async def right_of(route: Route, caller: Caller) -> Right | None:
    """The caller's right on this route, or None when the route refuses him."""
    for guard in route.guards:
        if not await passes(guard, caller):
            return None
    if route.guards:
        reach = release_reach(caller) if route.area in RELEASE_AREAS else None
        return Right(route, reach=reach)
    rule = RELATION_RULES.get((route.method, route.path))
    if rule is None:
        return Right(route, reach=DECIDED_IN_HANDLER)
    reach = rule(caller)
    return None if reach is None else Right(route, reach=reach)


async def rights_of(routes: list[Route], caller: Caller) -> list[Right]:
    """Every right the caller has among the routes."""
    found = []
    for route in routes:
        right = await right_of(route, caller)
        if right is not None:
            found.append(right)
    return found


def views(found: list[Right]) -> list[RightView]:
    """The report's view of rights."""
    return [
        RightView(
            area=right.route.area,
            action=right.route.action,
            method=right.route.method,
            path=right.route.path,
            summary=right.route.summary,
            reach=right.reach,
        )
        for right in found
    ]


def release_reach(caller: Caller) -> str:
    """Which releases a reader reaches (`releases.repository.visible_to`, need-to-know)."""
    if any(caller.has(role) for role in OVERSEERS):
        return "all"
    if caller.is_driver:
        return "his_own_assignments"
    if caller.has("terminal"):
        return "its_chains_and_terminal"
    return "its_chains"
