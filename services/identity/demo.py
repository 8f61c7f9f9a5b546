"""The demo port: a small set of parties and people for a laptop (development mode only).

Nothing secret is in the repository: keys, passwords and TOTP secrets are drawn at seed time
and written to `var/demo/credentials.json` (readable by the owner only), so anyone can drive
the API as a demo party or person. Each demo driver also gets a device key (the key his
phone would hold, with its device credential) so that he accepts assignments with a key of
his own; its private half in that file is demo material only, as is everything there.
"""

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from joserfc.jwk import OKPKey
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.credentials import service as credentials
from services.identity.keys import service as keys
from services.identity.parties import service as parties
from services.identity.parties.models import Party
from services.identity.people import service as people
from services.identity.people.models import Person
from services.identity.screening.hashing import ScreeningKeys
from services.identity.sealing import seal
from services.identity.sessions import totp
from services.identity.sessions.service import totp_binding
from services.identity.settings import IdentitySettings
from services.identity.signing import service as signing
from shared import jose
from shared.auth import Principal

ACTOR = "demo-seed"


@dataclass(frozen=True)
class DemoParty:
    """One party of the demo port and the people it has."""

    key: str
    number: int
    name: str
    roles: tuple[str, ...]
    people: tuple[tuple[str, str], ...]  # (username suffix, person role)


PORT = (
    DemoParty(
        "noordzee",
        100000001,
        "Noordzee Shipping Line",
        ("shipping_line",),
        (("planner", "dispatcher"),),
    ),
    DemoParty(
        "rijnmond", 100000002, "Rijnmond Forwarding", ("forwarder",), (("desk", "dispatcher"),)
    ),
    DemoParty("delta", 100000003, "Delta Forwarders", ("forwarder",), (("desk", "dispatcher"),)),
    DemoParty(
        "maasvlakte",
        100000004,
        "Maasvlakte Haulage",
        ("carrier",),
        # The admin manages the carrier's webhook subscriptions (the demo walk subscribes).
        (
            ("dispatch", "dispatcher"),
            ("driver1", "driver"),
            ("driver2", "driver"),
            ("admin", "admin"),
        ),
    ),
    DemoParty(
        "waalhaven",
        100000005,
        "Waalhaven Transport",
        ("carrier",),
        (("dispatch", "dispatcher"), ("driver1", "driver"), ("driver2", "driver")),
    ),
    # A subcontractor: it receives work from the two carriers above.
    DemoParty(
        "botlek",
        100000006,
        "Botlek Trucking (subcontractor)",
        ("carrier",),
        (("dispatch", "dispatcher"), ("driver1", "driver")),
    ),
    DemoParty(
        "ect", 100000007, "Europoort Container Terminal", ("terminal",), (("gate", "operator"),)
    ),
    DemoParty("douane", 100000008, "Douane Rotterdam", ("customs",), (("officer", "officer"),)),
    DemoParty(
        "security",
        100000009,
        "Port Security Rotterdam",
        ("port_security",),
        (("officer", "officer"),),
    ),
    DemoParty("admin", 100000010, "Ketenpas Administration", ("admin",), (("admin", "admin"),)),
)


def party_id(demo: DemoParty) -> str:
    """The demo party's EORI-based id."""
    return f"EU.EORI.NL{demo.number}"


async def _device_key(
    session: AsyncSession,
    settings: IdentitySettings,
    service_key: OKPKey,
    person: Person,
    now: datetime,
) -> dict[str, Any]:
    """A demo driver's device key and credential, as his phone would hold them (demo only)."""
    private = jose.generate_key()
    caller = Principal(
        party_id=person.party_id,
        party_roles=frozenset(),
        person_id=person.id,
        person_role=person.role,
    )
    key, record = await keys.register_device_key(
        session,
        settings=settings,
        signing_key=service_key,
        caller=caller,
        person_id=person.id,
        jwk=jose.public_jwk(private),
        now=now,
    )
    return {
        "device_kid": key.kid,
        "device_private_jwk": {**private.as_dict(private=True), "kid": key.kid},
        "device_credential": record.credential.token,
    }


async def is_seeded(session: AsyncSession) -> bool:
    """Whether the identity database already holds parties (then the seed leaves it alone)."""
    return (await session.exec(select(Party.id).limit(1))).first() is not None


async def seed(session: AsyncSession, settings: IdentitySettings, now: datetime) -> dict[str, Any]:
    """Create the demo port in the caller's transaction; returns what credentials.json holds."""
    if settings.environment != "development":
        raise RuntimeError("the demo seed runs in development mode only")
    await signing.ensure_key(session, settings, now)
    await session.flush()
    ring = await signing.load_keyring(session, settings, now)
    if ring.signing is None:
        raise RuntimeError("no signing key is active although one was just ensured")
    _, service_key = ring.signing
    party_rows: list[dict[str, Any]] = []
    people_rows: list[dict[str, Any]] = []
    for demo in PORT:
        pid = party_id(demo)
        await parties.create_party(
            session, party_id=pid, name=demo.name, roles=demo.roles, actor=ACTOR, now=now
        )
        own = jose.generate_key()
        key = await keys.register_key(
            session, party_id=pid, jwk=jose.public_jwk(own), actor=ACTOR, now=now
        )
        custodial = await keys.create_custodial_key(
            session, settings=settings, party_id=pid, actor=ACTOR, now=now
        )
        # Both keys get a credential: what the party's people sign with the custodial key
        # must verify in the chain as much as what its systems sign with their own key.
        issued, _ = [
            await credentials.issue_credential(
                session,
                party_id=pid,
                kid=kid,
                roles=None,
                settings=settings,
                signing_key=service_key,
                actor=ACTOR,
                now=now,
            )
            for kid in (key.kid, custodial.kid)
        ]
        party_rows.append(
            {
                "party_id": pid,
                "name": demo.name,
                "roles": list(demo.roles),
                "kid": key.kid,
                "private_jwk": {**own.as_dict(private=True), "kid": key.kid},
                "credential": issued.credential.token,
            }
        )
        for suffix, role in demo.people:
            people_rows.append(
                await _person(session, settings, service_key, demo, suffix, role, now)
            )
    return {
        "identity_url": settings.public_url,
        "issuer": settings.issuer,
        "parties": party_rows,
        "people": people_rows,
    }


async def _person(
    session: AsyncSession,
    settings: IdentitySettings,
    service_key: OKPKey,
    demo: DemoParty,
    suffix: str,
    role: str,
    now: datetime,
) -> dict[str, Any]:
    username = f"{demo.key}.{suffix}"
    person, password, secret = await enrolled_person(
        session,
        settings,
        party_id=party_id(demo),
        role=role,
        name=f"{demo.name}: {suffix}",
        username=username,
        now=now,
    )
    row = {
        "person_id": str(person.id),
        "party_id": party_id(demo),
        "role": role,
        "name": person.name,
        "username": username,
        "password": password,
        "totp_secret": secret,
        "provisioning_uri": totp.provisioning_uri(secret, username),
    }
    if role == "driver":
        await session.flush()  # the person's row exists before his key refers to it
        row |= await _device_key(session, settings, service_key, person, now)
    return row


async def enrolled_person(
    session: AsyncSession,
    settings: IdentitySettings,
    *,
    party_id: str,
    role: str,
    name: str,
    username: str,
    now: datetime,
) -> tuple[Person, str, str]:
    """A person with a fresh password and a confirmed TOTP secret (returned with him), so
    that a demo or benchmark login works straight away; a person of a screened role gets a
    made-up identity document (its hash is stored; the document itself is forgotten)."""
    password = secrets.token_urlsafe(12)
    document_number, date_of_birth = (
        _made_up_document() if people.needs_screening(role) else (None, None)
    )
    person = await people.create_person(
        session,
        party_id=party_id,
        role=role,
        name=name,
        username=username,
        password=password,
        screened_until=date.today() + timedelta(days=365),
        actor=ACTOR,
        now=now,
        document_number=document_number,
        date_of_birth=date_of_birth,
        screening_keys=ScreeningKeys.from_settings(settings),
    )
    secret = totp.new_secret()
    person.totp_secret_sealed = seal(
        settings.kek_bytes(), secret.encode(), bound_to=totp_binding(person.id)
    )
    person.totp_confirmed_at = now
    session.add(person)
    return person, password, secret


def _made_up_document() -> tuple[str, date]:
    """A random document number (two letters, seven digits) and date of birth: demo only."""
    letters = "".join(secrets.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
    number = letters + "".join(secrets.choice("0123456789") for _ in range(7))
    born = date(1960, 1, 1) + timedelta(days=secrets.randbelow(40 * 365))
    return number, born


def write_credentials(path: Path, document: dict[str, Any]) -> None:
    """Write credentials.json readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(document, indent=2) + "\n")
