"""Small factories for identity-service tests: rows straight into the database, tokens, callers."""

import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyotp
from fastapi import FastAPI
from joserfc.jwk import OKPKey

from services.identity.keys.models import PartyKey
from services.identity.parties.models import Party
from services.identity.people import service as people
from services.identity.people.models import Person
from services.identity.people.passwords import hash_password
from services.identity.sealing import seal
from services.identity.settings import IdentitySettings
from shared import jose
from shared.auth import issue_access_token
from shared.db import transaction
from shared.models import utcnow

_counter = iter(range(100_000_000, 999_999_999))


def new_eori(country: str = "NL") -> str:
    """A fresh, valid party id."""
    return f"EU.EORI.{country}{next(_counter)}"


async def make_party(app: FastAPI, *roles: str, status: str = "active", name: str = "") -> Party:
    """A party with the given roles."""
    party = Party(
        id=new_eori(),
        name=name or f"Party {uuid.uuid4().hex[:6]}",
        roles=list(roles),
        status=status,
    )
    async with transaction(app.state.sessions) as session:
        session.add(party)
    return party


async def add_own_key(app: FastAPI, party: Party) -> OKPKey:
    """Register a fresh own (non-custodial) Ed25519 key for the party; returns the private key."""
    private = jose.generate_key()
    async with transaction(app.state.sessions) as session:
        session.add(
            PartyKey(
                kid=jose.thumbprint(private), party_id=party.id, public_jwk=jose.public_jwk(private)
            )
        )
    return private


async def add_certified_key(app: FastAPI, party: Party) -> OKPKey:
    """An own key of the party that holds a credential (what the token endpoint requires)."""
    from services.identity.credentials import service as credentials

    private = await add_own_key(app, party)
    _, signing_key = await app.state.keyring.signing()
    async with transaction(app.state.sessions) as session:
        await credentials.issue_credential(
            session,
            party_id=party.id,
            kid=jose.thumbprint(private),
            roles=None,
            settings=app.state.settings,
            signing_key=signing_key,
            actor="test",
            now=utcnow(),
        )
    return private


TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "correct horse battery staple"


async def make_person(
    app: FastAPI,
    party: Party,
    role: str = "driver",
    *,
    totp: bool = True,
    status: str = "active",
    screened_until: date | None = None,
    **fields: Any,
) -> Person:
    """A person of the party with the test password and (by default) an enrolled TOTP."""
    settings: IdentitySettings = app.state.settings
    person = Person(
        party_id=party.id,
        role=role,
        name=fields.pop("name", "Test Person"),
        username=fields.pop("username", f"user-{uuid.uuid4().hex[:10]}"),
        password_hash=await hash_password(PASSWORD),
        screened_until=screened_until or (date.today() + timedelta(days=365)),
        status=status,
        **fields,
    )
    if totp:
        person.totp_secret_sealed = seal(
            settings.kek_bytes(), TOTP_SECRET.encode(), bound_to=f"people:{person.id}:totp"
        )
        person.totp_confirmed_at = utcnow()
    async with transaction(app.state.sessions) as session:
        session.add(person)
    return person


def totp_now(at: float | None = None) -> str:
    """The current TOTP code of the test secret."""
    return pyotp.TOTP(TOTP_SECRET).at(int(at if at is not None else time.time()))


def wrong_code(now: float, secret: str = TOTP_SECRET) -> str:
    """A code that is valid for none of the steps around `now` (unlike a random guess)."""
    valid = {pyotp.TOTP(secret).at(now + offset * 30) for offset in (-1, 0, 1)}
    return next(code for code in (f"{n:06d}" for n in range(4)) if code not in valid)


async def client_token(
    app: FastAPI, party: Party, scopes: list[str] | None = None, *, now: int | None = None
) -> str:
    """An access token for the party's API client, minted with the service's key (at
    `now`, the real time unless a test has moved the service's clock)."""
    settings: IdentitySettings = app.state.settings
    _, key = await app.state.keyring.signing()
    return issue_access_token(
        key,
        issuer=settings.issuer,
        party_id=party.id,
        party_roles=list(party.roles),
        scopes=scopes or [],
        now=int(time.time()) if now is None else now,
        lifetime=600,
    )


async def person_token(
    app: FastAPI, person: Person, party: Party, *, auth_time: int | None = None
) -> str:
    """An access token for a signed-in person, minted with the service's key, naming his
    status list entry as a real sign-in does."""
    settings: IdentitySettings = app.state.settings
    _, key = await app.state.keyring.signing()
    now = int(time.time())
    async with transaction(app.state.sessions) as session:
        status = await people.status_reference(
            session, person=person, issuer=settings.issuer, now=datetime.fromtimestamp(now, UTC)
        )
    return issue_access_token(
        key,
        issuer=settings.issuer,
        party_id=party.id,
        party_roles=list(party.roles),
        scopes=[],
        now=now,
        lifetime=600,
        person_id=person.id,
        person_role=person.role,
        auth_time=auth_time if auth_time is not None else now,
        amr=["pwd", "otp"],
        status=status,
    )


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


async def admin_headers(app: FastAPI) -> tuple[Party, dict[str, str]]:
    """An admin party and the Authorization header of its API client."""
    party = await make_party(app, "admin", name="Port administration")
    return party, bearer(await client_token(app, party))


async def party_client(app: FastAPI, *roles: str) -> tuple[Party, dict[str, str]]:
    """A party with these roles (carrier by default) and its API client's header."""
    party = await make_party(app, *(roles or ("carrier",)))
    return party, bearer(await client_token(app, party))


async def person_headers(app: FastAPI, party: Party, role: str = "dispatcher") -> dict[str, str]:
    """The Authorization header of a new, signed-in person of the party."""
    person = await make_person(app, party, role)
    return bearer(await person_token(app, person, party))
