"""A walk through the chain on the demo port, over HTTP, as its people would do it.

`ketenpas demo walk` (with `make run` running) signs in the demo people with their
passwords and TOTP codes from `var/demo/credentials.json`, and: the terminal announces a
fresh container in its yard, naming the shipping line that holds its release right (only
that line may release it there); the shipping line releases it to a forwarder, who
accepts and hands over to a carrier, who accepts and assigns one of its drivers, who
accepts; port security weighs the terminal's draws (a container from a named origin is
drawn more often); the driver fetches a gate pass, the terminal asks the gate (if the container is
selected for inspection, the customs officer records it clear and the gate is asked again)
and records the gate-out; port security then recomputes the decision's verifiable draw
with the published key, and puts the customs officer on a site's dog team, who reads its
dispatch (visits already drawn, a few minutes ahead at most); port security asks who knew
of the container; the carrier's planning system, subscribed by its admin before the chain
began, has been told of its nomination, its acceptances and the gate-out by signed webhook
deliveries (a receiver the walk runs on 127.0.0.1, checking each signature); a forwarder's
dispatcher looks up releases that are not his, the
monitoring rules raise an alert, and port security takes it on and closes it; port
security reads the carrier's exposure report; the release log's latest checkpoint shows the
witnesses' cosignatures (`make run` runs a demo witness); and port security opens the
container's chain in the web front end (when it runs), where every link shows verified.
Every step uses the custodial keys, so it is the web flow's path, but the driver's
acceptance: he signs it with his own device key (demo key in credentials.json), as his
phone would; each answer is printed.
"""

import base64
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp

from services.demo_receiver import DemoReceiver, verified
from shared import iso6346, jose, vrf
from shared.tlog.cosignature import parse_cosigner_key, require_quorum
from shared.tlog.note import NoteError

ACK_TYP = "ketenpas-ack+jwt"

Say = Callable[[str], None]


class Walk:
    """The demo document, an HTTP client, and who is signed in."""

    def __init__(self, document: dict[str, Any], client: httpx.Client, say: Say) -> None:
        self.document = document
        self.client = client
        self.say = say
        self.identity = document["identity_url"]
        self.release = document["release_url"]
        self._tokens: dict[str, dict[str, str]] = {}

    def person(self, username: str) -> dict[str, Any]:
        """A demo person by username."""
        person: dict[str, Any] = next(
            p for p in self.document["people"] if p["username"] == username
        )
        return person

    def party(self, username: str) -> str:
        """The party of a demo person."""
        return str(self.person(username)["party_id"])

    def headers(self, username: str) -> dict[str, str]:
        """Sign the person in once (password and TOTP) and keep the token."""
        if username not in self._tokens:
            person = self.person(username)
            answer = self.call(
                "post",
                f"{self.identity}/v1/sessions",
                f"{username} signs in",
                json={
                    "username": username,
                    "password": person["password"],
                    "otp": pyotp.TOTP(person["totp_secret"]).now(),
                },
            )
            self._tokens[username] = {"Authorization": f"Bearer {answer['access_token']}"}
        return self._tokens[username]

    def call(self, method: str, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        """One request; stops the walk on anything but success."""
        response = self.client.request(method, url, **kwargs)
        self.say(f"{response.status_code}  {what}")
        if response.status_code >= 400:
            raise RuntimeError(f"{what}: {response.text}")
        body: dict[str, Any] = response.json()
        return body

    def act(self, username: str, path: str, what: str, body: Any = None) -> dict[str, Any]:
        """A POST to the release service as a signed-in person."""
        return self.call(
            "post", f"{self.release}{path}", what, json=body, headers=self.headers(username)
        )


def device_ack(person: dict[str, Any], link_hash: str) -> str:
    """The driver's acceptance of an assignment, signed with his device key (as his phone
    would sign it; the demo keeps that key in credentials.json, demo only)."""
    claims = {
        "link": link_hash,
        "sub": person["person_id"],
        "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
    }
    return jose.sign(claims, jose.import_key(person["device_private_jwk"]), typ=ACK_TYP)


def _fresh_container() -> str:
    body = f"KTPU{secrets.randbelow(10**6):06d}"
    return body + str(iso6346.check_digit(body))


def walk(credentials: Path, say: Say) -> dict[str, Any]:
    """Run the walk; returns the gate decision."""
    document = json.loads(credentials.read_text())
    with httpx.Client(timeout=30) as client, DemoReceiver() as receiver:
        w = Walk(document, client, say)
        line, forwarder, carrier = "noordzee.planner", "rijnmond.desk", "maasvlakte.dispatch"
        driver, gate = "maasvlakte.driver1", "ect.gate"
        container = _fresh_container()
        subscription = _subscribe(w, "maasvlakte.admin", receiver)
        until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
        w.act(
            gate,
            "/v1/yard/entries",
            f"{gate} announces {container} in its yard for {w.party(line)}",
            {"container": container, "shipping_line": w.party(line), "state": "in_yard"},
        )
        release = w.act(
            line,
            "/v1/releases",
            f"{line} releases {container} to {w.party(forwarder)}",
            {
                "container": container,
                "terminal": w.party(gate),
                "release_to": w.party(forwarder),
                "valid_until": until.isoformat(),
                "reference": "BL-DEMO-1",
                "origin": DEMO_ORIGIN,
            },
        )
        base = f"/v1/releases/{release['release_id']}/links"
        w.act(forwarder, f"{base}/0/accept", f"{forwarder} accepts")
        w.act(
            forwarder,
            base,
            f"{forwarder} hands over to {w.party(carrier)}",
            {"kind": "handover", "to": w.party(carrier)},
        )
        w.act(carrier, f"{base}/1/accept", f"{carrier} accepts")
        driver_id = w.person(driver)["person_id"]
        assignment = w.act(
            carrier, base, f"{carrier} assigns {driver}", {"kind": "assignment", "to": driver_id}
        )
        w.act(
            driver,
            f"{base}/2/accept",
            f"{driver} accepts on his phone, with his own device key",
            {"ack": device_ack(w.person(driver), assignment["link_hash"])},
        )
        _weigh_origin(w, "security.officer", w.party(gate))
        decision = _ask_gate(w, gate, driver, container)
        if decision["decision"] == "inspect":
            officer = "douane.officer"
            w.act(
                officer,
                f"/v1/inspections/{decision['inspection_id']}/outcome",
                f"{officer} inspects {container}: clear",
                {"outcome": "clear"},
            )
            decision = _ask_gate(w, gate, driver, container)
        if decision["decision"] == "release":
            w.act(gate, f"/v1/gate/decisions/{decision['decision_id']}/complete", "gate-out")
            _told(w, "maasvlakte.admin", receiver, subscription, release["release_id"])
        _check_draw(w, "security.officer", decision)
        _visits(w, "security.officer", "douane.officer")
        _who_knew(w, "security.officer", container)
        _insider_is_noticed(w, "security.officer", "rijnmond.desk")
        _exposure(w, "security.officer", w.party(carrier))
        _witnessed(w)
        if document.get("web_url"):
            _in_the_browser(w, "security.officer", container)
        return decision


#: What the carrier's planning system wants to hear of (docs/webhooks.md lists every type).
CARRIER_EVENTS = (
    "nl.ketenpas.release.nomination_received",
    "nl.ketenpas.release.link_accepted",
    "nl.ketenpas.gate.completed",
)
#: How long the walk waits for the gate-out's delivery (the dispatcher looks every second).
DELIVERY_WAIT_SECONDS = 30.0


def _subscribe(w: Walk, admin: str, receiver: DemoReceiver) -> dict[str, Any]:
    """The carrier's admin subscribes its planning system (the walk's receiver) to its
    releases' events; the answer shows the signing secret this once."""
    return w.call(
        "post",
        f"{w.release}/v1/subscriptions",
        f"{admin} subscribes {receiver.url} to {', '.join(CARRIER_EVENTS)}",
        json={"url": receiver.url, "event_types": list(CARRIER_EVENTS)},
        headers=w.headers(admin),
    )


def _told(
    w: Walk, admin: str, receiver: DemoReceiver, subscription: dict[str, Any], release_id: str
) -> None:
    """What the carrier's system was told of the release, each delivery's signature checked
    with the secret, and the deliveries as the subscriber lists them."""
    arrived = receiver.wait_for("nl.ketenpas.gate.completed", release_id, DELIVERY_WAIT_SECONDS)
    for delivery in arrived:
        event = delivery.event()
        check = "signature verified" if verified(subscription["secret"], delivery) else "FORGED"
        w.say(f"     told: {event['type']} ({delivery.headers.get('webhook-id')}): {check}")
    if not any(d.event().get("type") == "nl.ketenpas.gate.completed" for d in arrived):
        raise RuntimeError(f"no gate-out event arrived within {DELIVERY_WAIT_SECONDS:g} s")
    if not all(verified(subscription["secret"], d) for d in arrived):
        raise RuntimeError("a delivery's signature does not hold")
    listed = w.call(
        "get",
        f"{w.release}/v1/subscriptions/{subscription['id']}/deliveries",
        f"{admin} lists the subscription's deliveries",
        headers=w.headers(admin),
    )
    done = sum(1 for d in listed["deliveries"] if d["status"] == "delivered")
    w.say(f"     {done} of {len(listed['deliveries'])} deliveries delivered")


DEMO_SITE = "ECT gate lanes (demo walk)"
DEMO_ORIGIN = "CO"


def _weigh_origin(w: Walk, security: str, terminal: str) -> None:
    """Port security reads the terminal's selection policy and, the first time, makes the
    walk's declared origin a risk factor (keeping the base and floor as they are)."""
    url = f"{w.release}/v1/inspections/policies/{terminal}"
    current = w.call(
        "get", url, f"{security} reads the terminal's selection policy", headers=w.headers(security)
    )
    if DEMO_ORIGIN not in current["origins"]:
        weights = {**current["weights"], "declared_origin": 3.0}
        current = w.call(
            "put",
            url,
            f"{security} weighs containers declared from {DEMO_ORIGIN} three times",
            json={
                "base": current["base"],
                "floor": current["floor"],
                "weights": weights,
                "origins": [*current["origins"], DEMO_ORIGIN],
                "daily_capacity": current["daily_capacity"],
            },
            headers=w.headers(security),
        )
    w.say(
        f"     policy version {current['version']}: base {current['base']}, floor "
        f"{current['floor']}, weights {current['weights']}; only customs and port security "
        "may read it"
    )


def _visits(w: Walk, security: str, handler: str) -> None:
    """Port security puts the customs officer on a site's dog team; he reads its dispatch:
    only visits already drawn, a few minutes ahead at most (no schedule exists)."""
    person = w.person(handler)
    team = [{"party_id": person["party_id"], "person_id": person["person_id"]}]
    sites = w.call(
        "get", f"{w.release}/v1/sites", f"{security} lists the sites", headers=w.headers(security)
    )["sites"]
    site = next((found for found in sites if found["name"] == DEMO_SITE), None)
    if site is None:
        site = w.act(
            security,
            "/v1/sites",
            f"{security} makes a site with a dog team and two visits an hour",
            {
                "name": DEMO_SITE,
                "kind": "gate_lanes",
                "visit_seconds": 900,
                "rates": [[2.0] * 24 for _ in range(7)],
                "team": team,
            },
        )
    seen = w.call(
        "get",
        f"{w.release}/v1/sites/{site['site_id']}/dispatch",
        f"{handler} reads the site's dispatch",
        headers=w.headers(handler),
    )
    w.say(
        f"     {len(seen['visits'])} visits drawn and not yet over; slots are drawn a few "
        f"minutes before they start, the first at {site['slots_from']}, none earlier"
    )


def _ask_gate(w: Walk, gate: str, driver: str, container: str) -> dict[str, Any]:
    """The driver shows a fresh gate pass and the terminal asks the gate."""
    driver_id = w.person(driver)["person_id"]
    gate_pass = w.call(
        "post",
        f"{w.identity}/v1/people/{driver_id}/gate-pass",
        f"{driver} shows a gate pass",
        headers=w.headers(driver),
    )["gate_pass"]
    decision = w.act(
        gate,
        "/v1/gate/decisions",
        f"{gate} asks the gate for {container}",
        {"container": container, "gate_pass": gate_pass},
    )
    codes = [reason["code"] for reason in decision["reasons"]]
    w.say(f"     decision: {decision['decision']} {codes}")
    return decision


def _check_draw(w: Walk, officer: str, decision: dict[str, Any]) -> None:
    """Port security recomputes the decision's draw with the published key, as anyone can."""
    keys = w.call("get", f"{w.release}/v1/inspections/key", "the inspection key (public)")
    draw = w.call(
        "get",
        f"{w.release}/v1/inspections/draws/{decision['draw_id']}",
        f"{officer} reads the decision's draw",
        headers=w.headers(officer),
    )
    public = next(k["public_key"] for k in keys["keys"] if k["key_id"] == draw["key_id"])
    beta = vrf.verify(_unb64(public), _unb64(draw["pi"]), draw["alpha"].encode("utf-8"))
    if beta != _unb64(draw["beta"]):
        raise RuntimeError("the draw's proof does not give its output")
    checkpoint = draw["alpha_object"]["checkpoint"]
    subject = draw["alpha_object"]["subject"]
    verdict = "selected" if draw["selected"] else "not selected"
    w.say(
        f"     weighed under policy version {subject.get('policy')} for the factors "
        f"{subject.get('factors')}"
    )
    w.say(
        f"     draw {draw['draw_id']}: u = {draw['u']:.4f} against p = {draw['probability']}: "
        f"{verdict}; proof verified under key {draw['key_id'][:12]}…, drawn after the log's "
        f"checkpoint at size {checkpoint['size']}"
    )


def _who_knew(w: Walk, officer: str, container: str) -> None:
    """Port security asks who knew of the container: every read and every party told,
    before and after its pickup (the question itself is recorded too)."""
    answer = w.call(
        "get",
        f"{w.release}/v1/investigations/containers/{container}/who-knew",
        f"{officer} asks who knew of {container}",
        headers=w.headers(officer),
    )
    before = [entry for entry in answer["entries"] if entry["pickup"] == "before"]
    actors = sorted({str(entry["actor"]) for entry in before if entry["actor"]})
    w.say(
        f"     {len(answer['entries'])} moments someone saw or was told of it, {len(before)} "
        f"before the pickup, by {len(actors)} people and systems"
    )


# How long the walk waits for the rule runner (it looks every 2 s by default).
ALERT_WAIT_SECONDS = 30.0


def _insider_is_noticed(w: Walk, officer: str, insider: str) -> None:
    """A dispatcher looks up releases that are not his party's: each is answered as if it
    did not exist, and each is recorded; the monitoring rules raise an alert for port
    security, who takes it on and closes it with a reason."""
    actor = f"person:{w.person(insider)['person_id']}"
    since = datetime.now(UTC) - timedelta(hours=1)
    for _ in range(3):
        probe = w.client.get(f"{w.release}/v1/releases/{uuid.uuid4()}", headers=w.headers(insider))
        w.say(f"     {insider} looks up a release that is not his: {probe.status_code}")
    deadline = time.monotonic() + ALERT_WAIT_SECONDS
    alert: dict[str, Any] | None = None
    while alert is None and time.monotonic() < deadline:
        listed = w.client.get(
            f"{w.release}/v1/alerts",
            params={"kind": "out_of_scope_lookups", "since": since.isoformat()},
            headers=w.headers(officer),
        ).json()
        alert = next((a for a in listed.get("alerts", []) if a["subject"] == actor), None)
        if alert is None:
            time.sleep(0.5)  # the rules run in the service's background: poll, bounded
    if alert is None:
        raise RuntimeError(f"no alert about {insider} within {ALERT_WAIT_SECONDS:.0f} s")
    w.say(
        f"200  alert for port security: {alert['summary']} ({alert['severity']}, "
        f"{len(alert['evidence'])} access-log rows as evidence)"
    )
    base = f"{w.release}/v1/alerts/{alert['alert_id']}"
    if alert["status"] == "open":
        w.call("post", f"{base}/acknowledge", f"{officer} takes it on", headers=w.headers(officer))
    if alert["status"] != "closed":
        w.call(
            "post",
            f"{base}/close",
            f"{officer} closes it as unfounded, with his reason",
            json={"outcome": "unfounded", "reason": "the demo walk's own look-ups"},
            headers=w.headers(officer),
        )


def _exposure(w: Walk, officer: str, party: str) -> None:
    """Port security reads the carrier's exposure: what each of its roles may do, what its
    people looked up, who holds keys."""
    report = w.call(
        "get",
        f"{w.release}/v1/parties/{party}/exposure",
        f"{officer} reads the exposure report of {party}",
        headers=w.headers(officer),
    )
    looked = sum(person["lookups"]["containers"] for person in report["people"])
    w.say(
        f"     {len(report['roles'])} roles, {len(report['people'])} people who looked up "
        f"{looked} containers in 30 days, {len(report['keys'])} keys"
    )


# How long the walk waits for the witnesses to cosign the latest checkpoint (each is
# pushed in the background as soon as it is signed).
COSIGN_WAIT_SECONDS = 15.0


def _witnessed(w: Walk) -> None:
    """The release log's latest checkpoint carries the cosignatures of the witnesses the
    service pushes to: each cosigns only a checkpoint that extends the last one it saw, so
    nobody who runs the database can roll the log back or fork it unnoticed."""
    status = w.call("get", f"{w.release}/v1/log/status", "the release log's status (public)")
    witnesses = [parse_cosigner_key(witness["key"]) for witness in status["witnesses"]]
    if not witnesses:
        w.say("     no witness configured here (`make run` starts a demo one: docs/witness.md)")
        return
    deadline = time.monotonic() + COSIGN_WAIT_SECONDS
    while True:
        note = w.client.get(f"{w.release}/log/checkpoint").text
        try:
            found = require_quorum(note, witnesses, len(witnesses))
            break
        except NoteError as exc:
            if time.monotonic() > deadline:
                now = w.client.get(f"{w.release}/v1/log/status").json()
                raise RuntimeError(f"not cosigned: {exc}; witnesses: {now['witnesses']}") from exc
            time.sleep(0.5)  # the push runs in the service's background: poll, bounded
    size = note.splitlines()[1]
    w.say(
        f"200  the log's checkpoint at size {size} is cosigned by {', '.join(sorted(found))}"
        " (each witness cosigns only a checkpoint that extends the last one it saw)"
    )


def _in_the_browser(w: Walk, officer: str, container: str) -> None:
    """Port security signs in to the web front end and opens the container's chain there,
    as an officer would in a browser (the page a newcomer opens next)."""
    web = w.document["web_url"]
    person = w.person(officer)
    with httpx.Client(base_url=web, timeout=30) as browser:
        form = browser.get("/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        if csrf is None:
            raise RuntimeError("the web front end's sign-in page has no form")
        signed_in = browser.post(
            "/signin",
            data={
                "csrf": csrf.group(1),
                "username": officer,
                "password": person["password"],
                # The next step's code: the API sign-in above spent this step's.
                "otp": pyotp.TOTP(person["totp_secret"]).at(int(time.time()) + 30),
            },
        )
        w.say(f"{signed_in.status_code}  {officer} signs in to the web front end at {web}")
        if signed_in.status_code != 303:
            raise RuntimeError(f"web sign-in refused: {signed_in.text[:500]}")
        page = browser.get("/security", params={"container": container})
        w.say(f"{page.status_code}  {officer} opens {container} in the browser")
        if page.status_code != 200:
            raise RuntimeError(f"web page refused: {page.text[:500]}")
    verdict = "every link verified" if "every link verified" in page.text else "NOT verified"
    w.say(f"     {verdict}; open {web}/security?container={container} to see it yourself")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
