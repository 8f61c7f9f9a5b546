"""`ketenpas inspections verify`: check a period's draws from the outside.

With the VRF public keys it trusts, the audit log's verifier key and a port-security token,
it fetches the period's draws and gate decisions and checks, naming the first bad draw:

1. every draw: its key is one of the trusted keys; ``alpha`` is the RFC 8785 JSON of the
   object it publishes, for its purpose; the proof verifies and gives the published
   ``beta``; ``u`` is beta's first 8 bytes over 2^64; ``selected`` is ``u < probability``;
   a container draw's probability is what the terminal's policy version it names, as
   logged, gives for the risk factors it names;
2. every checkpoint quoted in an ``alpha``: the log's origin, and the very root of the
   log at that size, recomputed from the whole log behind its signed checkpoint (so no
   draw can cite a checkpoint the log never had, or one from its future);
3. a release's container draws are its visits 1, 2, 3, ..., none repeated or skipped (the
   input names the visit, not the decision: the service could pick decision ids freely);
   every gate decision of the period that released or selected names exactly one draw
   (of its own decision, or of the visit or cleared inspection of the same release), and
   every container draw belongs to the decision it names: none dropped, none redrawn;
4. every visit slot of the period (every slot of every site, from the site's first slot
   to its last as its logged events put them, that port security may list: those over by
   the service's longest visit)
   has exactly one draw, of that very site and slot, with the probability the site's
   logged rate profile gives at the slot's start, and the slot's visit is the draw's
   result; every visit draw of the period is the draw of a listed slot: none dropped,
   none redrawn;
5. every draw, decision and slot is what the audit log holds: its logged event says the same,
   and the event's receipt proves it is in the log under a signed checkpoint of the same
   verified log. The tables can be edited by whoever holds the database; the log cannot
   be rewritten unnoticed, so a draw made again and put in place of the first, or a
   result changed afterwards, no longer matches what was logged with the decision.
"""

import base64
import binascii
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import rfc8785

from services.release.inspections.draws import u_of
from services.release.inspections.keys import key_id_of
from services.release.inspections.risk import RiskPolicy, probability_of
from services.release.visits.rates import check_profile, rate_at, slot_probability
from services.release.visits.slots import slot_name
from shared import vrf
from shared.audit.events import commitment
from shared.audit.verify import VerificationFailed, verify_log
from shared.tlog.checkpoint import Checkpoint
from shared.tlog.note import Verifier, parse_verifier_key
from shared.tlog.receipt import parse_receipt, verify_receipt


class DrawCheckFailed(Exception):
    """A draw (or a decision's draw) does not hold up; `draw` names it when one is known."""

    def __init__(self, reason: str, draw: str | None = None) -> None:
        super().__init__(reason if draw is None else f"draw {draw}: {reason}")
        self.reason = reason
        self.draw = draw


@dataclass
class DrawReport:
    """What a successful check covered."""

    draws: int = 0
    selected: int = 0
    decisions: int = 0
    slots: int = 0
    visits: int = 0
    checkpoints: set[int] = field(default_factory=set)
    log_size: int = 0


def _b64url(text: object, what: str, draw: str) -> bytes:
    if not isinstance(text, str):
        raise DrawCheckFailed(f"{what} is not text", draw)
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise DrawCheckFailed(f"{what} is not base64url", draw) from None


async def _pages(
    client: httpx.AsyncClient, path: str, key: str, params: Mapping[str, str]
) -> AsyncIterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query)
        if response.status_code != 200:
            raise DrawCheckFailed(f"GET {path} answered {response.status_code}")
        page = response.json()
        for item in page[key]:
            yield item
        cursor = page.get("next")
        if not cursor:
            return


def check_draw(draw: Mapping[str, Any], trusted: Mapping[str, bytes]) -> dict[str, Any]:
    """Check one published draw on its own; returns its checkpoint. DrawCheckFailed if not."""
    name = str(draw.get("draw_id"))
    public_key = trusted.get(str(draw.get("key_id")))
    if public_key is None:
        raise DrawCheckFailed("drawn with a key that is not trusted", name)
    alpha_text = draw.get("alpha")
    if not isinstance(alpha_text, str):
        raise DrawCheckFailed("alpha is missing", name)
    alpha = alpha_text.encode("utf-8")
    try:
        alpha_object = json.loads(alpha_text)
    except ValueError:
        raise DrawCheckFailed("alpha is not JSON", name) from None
    if not isinstance(alpha_object, dict) or rfc8785.dumps(alpha_object) != alpha:
        raise DrawCheckFailed("alpha is not canonical JSON (RFC 8785)", name)
    if alpha_object != draw.get("alpha_object") or alpha_object.get("purpose") != draw.get(
        "purpose"
    ):
        raise DrawCheckFailed("alpha says something else than the draw", name)
    try:
        beta = vrf.verify(public_key, _b64url(draw.get("pi"), "pi", name), alpha)
    except vrf.VrfError as exc:
        raise DrawCheckFailed(f"the proof does not verify ({exc.code})", name) from None
    if beta != _b64url(draw.get("beta"), "beta", name):
        raise DrawCheckFailed("beta is not the proof's output", name)
    if draw.get("u") != u_of(beta):
        raise DrawCheckFailed("u is not beta's number", name)
    probability = draw.get("probability")
    if not isinstance(probability, int | float) or not 0 <= probability <= 1:
        raise DrawCheckFailed("the probability is not in [0, 1]", name)
    if draw.get("selected") is not (u_of(beta) < probability):
        raise DrawCheckFailed("the result does not follow from u and the probability", name)
    if draw.get("purpose") == "container":
        subject = alpha_object.get("subject")
        if not isinstance(subject, dict) or subject.get("release") != draw.get("release_id"):
            raise DrawCheckFailed("the draw is not of the release it names", name)
        visit = subject.get("visit")
        if not isinstance(visit, int) or isinstance(visit, bool) or visit < 1:
            raise DrawCheckFailed("the draw names no visit of its release", name)
    checkpoint = alpha_object.get("checkpoint")
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("size"), int):
        raise DrawCheckFailed("alpha holds no checkpoint", name)
    return checkpoint


_DRAW_FIELDS = ("purpose", "alpha", "key_id", "pi", "beta", "u", "probability", "selected")
_DECISION_FIELDS = ("decision", "container", "terminal")


def _logged(item: Mapping[str, Any], event_type: str, name: str) -> dict[str, Any]:
    text = item.get("logged_event")
    try:
        event = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        event = None
    if not isinstance(event, dict):
        raise DrawCheckFailed("its logged event is missing", name)
    if event.get("type") != event_type or event.get("id") != str(item.get("event_id")):
        raise DrawCheckFailed("its logged event is another event", name)
    return event


def check_logged_draw(draw: Mapping[str, Any]) -> None:
    """The draw says what its event in the log says."""
    name = str(draw.get("draw_id"))
    event = _logged(draw, "inspection.drawn", name)
    if event.get("draw_id") != name or any(event.get(f) != draw.get(f) for f in _DRAW_FIELDS):
        raise DrawCheckFailed("the draw differs from the one logged", name)


def check_logged_decision(decision: Mapping[str, Any]) -> None:
    """The decision, and the draw it names, are what its event in the log says."""
    name = f"decision {decision.get('decision_id')}"
    event = _logged(decision, "gate.decided", name)
    if (
        event.get("decision_id") != str(decision.get("decision_id"))
        or event.get("release_id") != _text_or_none(decision.get("release_id"))
        or event.get("draw_id") != _text_or_none(decision.get("draw_id"))
        or any(event.get(f) != decision.get(f) for f in _DECISION_FIELDS)
    ):
        raise DrawCheckFailed(f"{name} differs from the one logged (its draw was replaced?)")


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _check_release_visits(draws: Mapping[str, Mapping[str, Any]]) -> None:
    """A release's container draws are its visits 1, 2, 3, ... each drawn once: a draw's
    input is fixed by the pickup, so nobody can try inputs until one draws `release`.
    Within what was fetched, numbers repeat nowhere and skip nowhere."""
    by_release: dict[str, list[tuple[int, str]]] = {}
    for draw_id, draw in draws.items():
        if draw.get("purpose") == "container":
            subject = draw["alpha_object"]["subject"]
            by_release.setdefault(str(subject["release"]), []).append((subject["visit"], draw_id))
    for visits in by_release.values():
        visits.sort()
        for (before, _), (number, draw_id) in itertools.pairwise(visits):
            if number == before:
                raise DrawCheckFailed(f"visit {number} of its release was drawn twice", draw_id)
            if number != before + 1:
                raise DrawCheckFailed(f"visits {before + 1} to {number - 1} are missing", draw_id)


async def _receipt(
    client: httpx.AsyncClient, item: Mapping[str, Any], verifier: Verifier, name: str
) -> Checkpoint:
    """The signed checkpoint under which the item's logged event is proved to be."""
    response = await client.get(f"/v1/log/events/{item.get('event_id')}/receipt")
    if response.status_code != 200:
        raise DrawCheckFailed(f"its event has no receipt ({response.status_code})", name)
    try:
        extra = parse_receipt(response.text).extra or b""
        entry = commitment(extra, str(item.get("logged_event")).encode("utf-8"))
        return verify_receipt(response.text, entry, verifier, verifier.name)
    except ValueError as exc:
        raise DrawCheckFailed(f"its event is not in the log as published: {exc}", name) from None


def _check_decisions(
    decisions: list[dict[str, Any]], draws: Mapping[str, dict[str, Any]], in_period: set[str]
) -> None:
    """Every deciding decision names one draw of its release; every container draw of the
    period is the draw its decision names (none dropped, none redrawn)."""
    by_id = {str(decision.get("decision_id")): decision for decision in decisions}
    for decision_id, decision in by_id.items():
        draw_id = decision.get("draw_id")
        if decision.get("decision") == "deny":
            if draw_id is not None:
                raise DrawCheckFailed("a deny names a draw", str(draw_id))
            continue
        if draw_id is None:
            raise DrawCheckFailed(f"decision {decision_id} names no draw")
        draw = draws.get(str(draw_id))
        if draw is None:
            raise DrawCheckFailed(
                f"decision {decision_id} names a draw that is not published", str(draw_id)
            )
        if draw.get("release_id") != decision.get("release_id"):
            raise DrawCheckFailed("a decision names a draw of another release", str(draw_id))
    drawn_for: dict[str, str] = {}
    for draw_id in sorted(in_period):
        draw = draws[draw_id]
        if draw.get("purpose") != "container":
            continue
        decision_id = str(draw.get("decision_id"))
        if decision_id in drawn_for:
            raise DrawCheckFailed(f"decision {decision_id} was drawn for twice", draw_id)
        drawn_for[decision_id] = draw_id
        drawn_by = by_id.get(decision_id)
        if drawn_by is None:
            raise DrawCheckFailed("the decision it was drawn for is missing", draw_id)
        if str(drawn_by.get("draw_id")) != draw_id:
            raise DrawCheckFailed("its decision names another draw", draw_id)


def _moment(value: object, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise DrawCheckFailed(f"{what} is not a time") from None
    if moment.tzinfo is None:
        raise DrawCheckFailed(f"{what} has no offset")
    return moment


def check_logged_slot(slot: Mapping[str, Any]) -> None:
    """The slot, and the draw it names, are what its event in the log says."""
    name = f"slot {slot.get('slot_id')}"
    event = _logged(slot, "visit.slot_drawn", name)
    if (
        event.get("slot_id") != str(slot.get("slot_id"))
        or event.get("site_id") != str(slot.get("site_id"))
        or event.get("slot") != slot_name(_moment(slot.get("slot_start"), name))
        or event.get("draw_id") != _text_or_none(slot.get("draw_id"))
        or event.get("visit") is not slot.get("visit")
        or event.get("rate") != slot.get("rate")
        or event.get("zone") != slot.get("zone")
        or event.get("rates_event_id") != _text_or_none(slot.get("rates_event_id"))
    ):
        raise DrawCheckFailed(f"{name} differs from the one logged (its draw was replaced?)")


def _is_profile(rates: list[Any]) -> bool:
    try:
        return check_profile(rates) is None
    except TypeError:  # rates that are not numbers
        return False


def check_slot_rate(slot: Mapping[str, Any], site: Mapping[str, Any]) -> None:
    """The slot's draw had the probability its site's logged rate profile gives."""
    name = f"slot {slot.get('slot_id')}"
    profile = {
        "event_id": slot.get("rates_event_id"),
        "logged_event": slot.get("rates_logged_event"),
    }
    try:
        logged = _logged(profile, "visit.rates_set", name)
    except DrawCheckFailed:
        logged = _logged(profile, "visit.site_created", name)
    rates = logged.get("rates")
    if (
        not isinstance(rates, list)
        or not _is_profile(rates)
        or logged.get("site_id") != str(slot.get("site_id"))
    ):
        raise DrawCheckFailed(f"{name} names a rate profile that is not its site's")
    try:
        zone = ZoneInfo(str(slot.get("zone")))
    except (ValueError, ZoneInfoNotFoundError):
        raise DrawCheckFailed(f"{name} names no time zone") from None
    rate = rate_at(rates, _moment(slot.get("slot_start"), name), zone)
    draw = slot.get("draw") or {}
    expected = slot_probability(rate, int(site.get("slot_seconds") or 0))
    if slot.get("rate") != rate or draw.get("probability") != expected:
        raise DrawCheckFailed(
            f"{name}'s probability is not its site's logged rate at its start",
            str(slot.get("draw_id")),
        )


def check_logged_site(site: Mapping[str, Any]) -> None:
    """The site's slots begin and end where its logged events put them."""
    name = f"site {site.get('site_id')}"
    created = _logged(site, "visit.site_created", name)
    if (
        created.get("site_id") != str(site.get("site_id"))
        or created.get("slots_from") != slot_name(_moment(site.get("slots_from"), name))
        or created.get("slot_seconds") != site.get("slot_seconds")
    ):
        raise DrawCheckFailed(f"{name}'s first slot differs from the one logged")
    if site.get("slots_until") is None:
        return
    closing = {
        "event_id": site.get("closed_event_id"),
        "logged_event": site.get("closed_logged_event"),
    }
    closed = _logged(closing, "visit.site_changed", f"{name} (closed)")
    if closed.get("site_id") != str(site.get("site_id")) or closed.get("slots_until") != (
        slot_name(_moment(site.get("slots_until"), name))
    ):
        raise DrawCheckFailed(f"{name}'s last slot differs from the one logged")


def _subject_key(draw: Mapping[str, Any]) -> tuple[str, str]:
    try:
        subject = json.loads(str(draw.get("alpha"))).get("subject")
    except (ValueError, AttributeError):
        subject = None
    if not isinstance(subject, dict) or set(subject) != {"site", "slot"}:
        raise DrawCheckFailed("a visit draw names no site and slot", str(draw.get("draw_id")))
    return str(subject["site"]), str(subject["slot"])


def _expected_slots(
    sites: list[dict[str, Any]], since: datetime, complete_until: datetime
) -> set[tuple[str, str]]:
    """Every slot of every site starting in [since, complete_until): the period's slots."""
    expected: set[tuple[str, str]] = set()
    for site in sites:
        name = f"site {site.get('site_id')}"
        step = site.get("slot_seconds")
        if not isinstance(step, int) or step <= 0:
            raise DrawCheckFailed(f"{name} has no slot length")
        moment = _moment(site.get("slots_from"), name)
        last = site.get("slots_until")
        end = complete_until if last is None else min(complete_until, _moment(last, name))
        if moment < since:  # the site's first slot in the period, on its grid
            moment += timedelta(seconds=-(-(since - moment).total_seconds() // step) * step)
        while moment < end:
            expected.add((str(site.get("site_id")), slot_name(moment)))
            moment += timedelta(seconds=step)
    return expected


def _check_slots(
    sites: list[dict[str, Any]],
    slots: list[dict[str, Any]],
    draws: Mapping[str, dict[str, Any]],
    *,
    since: datetime,
    complete_until: datetime,
) -> None:
    """Each listed slot has one draw of its own site and slot, which decided its visit; each
    visit draw of the period is a listed slot's; every slot of the period is listed."""
    listed: dict[tuple[str, str], dict[str, Any]] = {}
    for slot in slots:
        name = f"slot {slot.get('slot_id')}"
        key = (str(slot.get("site_id")), slot_name(_moment(slot.get("slot_start"), name)))
        if key in listed:
            raise DrawCheckFailed(f"{name}: site {key[0]} has slot {key[1]} twice")
        listed[key] = slot
        draw_id = slot.get("draw_id")
        if draw_id is None:
            raise DrawCheckFailed(f"{name} (site {key[0]}, {key[1]}) has no draw")
        draw = draws.get(str(draw_id))
        if draw is None:
            raise DrawCheckFailed(f"{name} names a draw that is not published", str(draw_id))
        if draw.get("purpose") != "visit" or _subject_key(draw) != key:
            raise DrawCheckFailed(f"the draw is not of {name}'s site and slot", str(draw_id))
        if draw.get("selected") is not slot.get("visit"):
            raise DrawCheckFailed(f"{name}'s visit is not its draw's result", str(draw_id))
    drawn_for: dict[tuple[str, str], str] = {}
    # Every visit draw known (the period's, and those its slots name): first any slot drawn
    # twice, whichever draw is whose; then each is its slot's.
    for draw_id in sorted(draws):
        if draws[draw_id].get("purpose") != "visit":
            continue
        key = _subject_key(draws[draw_id])
        if key in drawn_for:
            raise DrawCheckFailed(f"site {key[0]}: slot {key[1]} was drawn for twice", draw_id)
        drawn_for[key] = draw_id
    for key, draw_id in sorted(drawn_for.items()):
        owner = listed.get(key)
        if owner is None:
            raise DrawCheckFailed(f"site {key[0]}: slot {key[1]} is not listed", draw_id)
        if str(owner.get("draw_id")) != draw_id:
            raise DrawCheckFailed(f"site {key[0]}: slot {key[1]} names another draw", draw_id)
    missing = sorted(_expected_slots(sites, since, complete_until) - set(listed))
    if missing:
        site, slot_start = missing[0]
        raise DrawCheckFailed(
            f"site {site}: slot {slot_start} has no draw ({len(missing)} slots missing)"
        )


async def _fetch_slots(
    client: httpx.AsyncClient, draws: Mapping[str, dict[str, Any]], since: datetime, until: datetime
) -> tuple[list[dict[str, Any]], datetime]:
    """The slots of the period, and of every visit draw of the period (a slot drawn ahead
    lies after it, one drawn late before it); and until when the list is complete."""
    starts = [since, until]
    for draw in draws.values():
        if draw.get("purpose") == "visit":
            moment = _moment(_subject_key(draw)[1], f"draw {draw.get('draw_id')}'s slot")
            starts += [moment, moment + timedelta(seconds=1)]
    window = {"since": min(starts).isoformat(), "until": max(starts).isoformat()}
    slots: list[dict[str, Any]] = []
    completes: list[datetime] = []
    cursor: str | None = None
    while True:
        query = {**window, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/sites/slots", params=query)
        if response.status_code != 200:
            raise DrawCheckFailed(f"GET /v1/sites/slots answered {response.status_code}")
        page = response.json()
        slots += page["slots"]
        # The earliest page's holds: the later ones were answered later.
        completes.append(_moment(page["complete_until"], "complete_until"))
        cursor = page.get("next")
        if not cursor:
            return slots, min([*completes, until])


def _logged_policy(version: Mapping[str, Any], terminal: str, name: str) -> RiskPolicy:
    """The policy version as its event in the log says it (the table may have been edited)."""
    event = _logged(version, "inspection.policy_set", name)
    if event.get("terminal") != terminal or event.get("version") != version.get("version"):
        raise DrawCheckFailed(f"{name}: its logged event is of another policy")
    try:
        return RiskPolicy(
            base=float(event["base"]),
            floor=float(event["floor"]),
            weights={str(factor): float(weight) for factor, weight in event["weights"].items()},
            origins=frozenset(str(origin) for origin in event["origins"]),
            version=int(event["version"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise DrawCheckFailed(f"{name}: its logged event is not a policy") from None


def check_container_probability(
    draw: Mapping[str, Any], policies: Mapping[tuple[str, int], RiskPolicy]
) -> None:
    """The container draw's probability follows from the policy version and factors it names."""
    name = str(draw.get("draw_id"))
    subject = draw.get("alpha_object", {}).get("subject", {})
    terminal, version, factors = (
        subject.get("terminal"),
        subject.get("policy"),
        subject.get("factors"),
    )
    if not isinstance(factors, list) or not all(isinstance(f, str) for f in factors):
        raise DrawCheckFailed("it names no risk factors", name)
    policy = policies.get((str(terminal), version)) if isinstance(version, int) else None
    if policy is None:
        raise DrawCheckFailed("it names a policy version the terminal does not publish", name)
    if draw.get("probability") != probability_of(policy, factors):
        raise DrawCheckFailed("its probability is not what its policy gives its factors", name)


async def _container_policies(
    client: httpx.AsyncClient,
    draws: Mapping[str, Mapping[str, Any]],
    verifier: Verifier,
    receipts: dict[str, Checkpoint],
) -> dict[tuple[str, int], RiskPolicy]:
    """Every published policy version of the terminals the container draws name, read from
    their logged events, each event's receipt kept for the log check."""
    terminals = {
        str(draw.get("alpha_object", {}).get("subject", {}).get("terminal"))
        for draw in draws.values()
        if draw.get("purpose") == "container"
    }
    policies: dict[tuple[str, int], RiskPolicy] = {}
    for terminal in sorted(terminals):
        response = await client.get(f"/v1/inspections/policies/{terminal}/versions")
        if response.status_code != 200:
            raise DrawCheckFailed(
                f"the policies of terminal {terminal} cannot be read ({response.status_code})"
            )
        for version in response.json().get("versions", []):
            name = f"policy {terminal} v{version.get('version')}"
            policy = _logged_policy(version, terminal, name)
            policies[(terminal, policy.version)] = policy
            receipts[name] = await _receipt(client, version, verifier, name)
    return policies


async def verify_draws(
    base_url: str,
    *,
    trusted_keys: list[str],
    log_key: str,
    token: str,
    since: datetime,
    until: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
) -> DrawReport:
    """Check the period's draws and decisions (see the module); DrawCheckFailed if not."""
    trusted: dict[str, bytes] = {}
    for text in trusted_keys:
        key = _b64url(text, "a trusted key", "-")
        trusted[key_id_of(key)] = key
    period = {"since": since.isoformat(), "until": until.isoformat()}
    headers = {"Authorization": f"Bearer {token}"}
    report = DrawReport()
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, transport=transport, timeout=30
    ) as client:
        draws: dict[str, dict[str, Any]] = {}
        async for draw in _pages(client, "/v1/inspections/draws", "draws", period):
            draws[str(draw.get("draw_id"))] = draw
        in_period = set(draws)
        decisions = [
            decision
            async for decision in _pages(client, "/v1/inspections/decisions", "decisions", period)
        ]
        for decision in decisions:  # a draw made before the period that a decision reuses
            draw_id = decision.get("draw_id")
            if draw_id is not None and str(draw_id) not in draws:
                response = await client.get(f"/v1/inspections/draws/{uuid.UUID(str(draw_id))}")
                if response.status_code == 200:
                    draws[str(draw_id)] = response.json()
        sites = [site async for site in _pages(client, "/v1/sites", "sites", {})]
        slots, complete_until = await _fetch_slots(client, draws, since, until)
        for slot in slots:  # a slot's draw made before the period (drawn ahead)
            embedded = slot.get("draw")
            if isinstance(embedded, dict) and str(embedded.get("draw_id")) not in draws:
                draws[str(embedded.get("draw_id"))] = embedded
        checkpoints: dict[str, dict[str, Any]] = {}
        for draw_id, draw in draws.items():
            checkpoints[draw_id] = check_draw(draw, trusted)
            check_logged_draw(draw)
            report.selected += bool(draw.get("selected"))
        _check_release_visits(draws)
        for decision in decisions:
            check_logged_decision(decision)
        _check_decisions(decisions, draws, in_period)
        for site in sites:
            check_logged_site(site)
        for slot in slots:
            check_logged_slot(slot)
        _check_slots(sites, slots, draws, since=since, complete_until=complete_until)
        by_site = {str(site.get("site_id")): site for site in sites}
        for slot in slots:
            of_site = by_site.get(str(slot.get("site_id")))
            if of_site is None:
                raise DrawCheckFailed(f"slot {slot.get('slot_id')} is of a site not listed")
            check_slot_rate(slot, of_site)
        verifier = parse_verifier_key(log_key)
        receipts: dict[str, Checkpoint] = {}
        policies = await _container_policies(client, draws, verifier, receipts)
        for draw in draws.values():
            if draw.get("purpose") == "container":
                check_container_probability(draw, policies)
        for draw_id, draw in draws.items():
            receipts[draw_id] = await _receipt(client, draw, verifier, draw_id)
        for decision in decisions:
            name = f"decision {decision.get('decision_id')}"
            receipts[name] = await _receipt(client, decision, verifier, name)
        for slot in slots:
            name = f"slot {slot.get('slot_id')}"
            receipts[name] = await _receipt(client, slot, verifier, name)
        profiles = {
            str(slot.get("rates_event_id")): {
                "event_id": slot.get("rates_event_id"),
                "logged_event": slot.get("rates_logged_event"),
            }
            for slot in slots
        }
        for event_id, profile in profiles.items():
            name = f"rate profile {event_id}"
            receipts[name] = await _receipt(client, profile, verifier, name)
        for site in sites:
            name = f"site {site.get('site_id')}"
            receipts[name] = await _receipt(client, site, verifier, name)
            if site.get("closed_event_id") is not None:
                closing = {
                    "event_id": site.get("closed_event_id"),
                    "logged_event": site.get("closed_logged_event"),
                }
                receipts[f"{name} (closed)"] = await _receipt(client, closing, verifier, name)
    report.draws, report.decisions = len(draws), len(decisions)
    report.slots, report.visits = len(slots), sum(bool(slot.get("visit")) for slot in slots)
    sizes = {int(checkpoint["size"]) for checkpoint in checkpoints.values()}
    try:
        log = await verify_log(
            base_url,
            log_key,
            transport=transport,
            roots_at=sizes | {signed.size for signed in receipts.values()},
        )
    except VerificationFailed as exc:
        raise DrawCheckFailed(f"the audit log does not verify: {exc}") from exc
    for name, signed in receipts.items():
        if log.roots.get(signed.size) != signed.root_hash:
            raise DrawCheckFailed("its receipt is from another log than the one verified", name)
    for draw_id, checkpoint in checkpoints.items():
        root = log.roots.get(int(checkpoint["size"]))
        quoted = _b64std(checkpoint.get("root"), draw_id)
        if checkpoint.get("origin") != log.origin or root is None or root != quoted:
            raise DrawCheckFailed("its checkpoint is not one the log ever had", draw_id)
    report.checkpoints, report.log_size = sizes, log.size
    return report


def _b64std(text: object, draw: str) -> bytes:
    if not isinstance(text, str):
        raise DrawCheckFailed("the checkpoint's root is not text", draw)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DrawCheckFailed("the checkpoint's root is not base64", draw) from None
