"""The identity service's signing keys: bootstrap, rotation, the active key, the JWKS.

A new key is published as soon as it is created but signs only from `activates_at`
(after the propagation delay), so every verifier's cached JWKS holds it before the first
token it signs arrives. The key it replaces retires at that moment and stays published
until everything it can have signed has expired.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from joserfc.jwk import OKPKey
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.sealing import seal, unseal
from services.identity.settings import IdentitySettings
from services.identity.signing import repository
from services.identity.signing.models import SigningKey
from shared import jose
from shared.audit.events import append


def _bound_to(kid: str) -> str:
    return f"signing_keys:{kid}"


def max_signed_lifetime(settings: IdentitySettings) -> timedelta:
    """The longest anything this service signs stays valid (credentials)."""
    return timedelta(days=settings.credential_lifetime_days)


#: How the audit log names the service itself when it acts on its own (bootstrap).
SERVICE_ACTOR = "service:identity"


async def create_key(
    session: AsyncSession,
    settings: IdentitySettings,
    *,
    activates_at: datetime,
    actor: str = SERVICE_ACTOR,
) -> SigningKey:
    """Make a new signing key, published now, signing from `activates_at`."""
    private = jose.generate_key()
    kid = jose.thumbprint(private)
    key = SigningKey(
        kid=kid,
        public_jwk=jose.public_jwk(private),
        sealed_private=seal(
            settings.kek_bytes(), private.as_pem(private=True), bound_to=_bound_to(kid)
        ),
        activates_at=activates_at,
    )
    session.add(key)
    await append(
        session,
        "signing_key.created",
        {"actor": actor, "kid": kid, "activates_at": activates_at.isoformat()},
    )
    return key


async def ensure_key(session: AsyncSession, settings: IdentitySettings, now: datetime) -> None:
    """Bootstrap: a service without any signing key gets one that signs at once."""
    if not await repository.any_key_exists(session):
        await create_key(session, settings, activates_at=now)


async def rotate(
    session: AsyncSession, settings: IdentitySettings, now: datetime, *, actor: str = SERVICE_ACTOR
) -> SigningKey:
    """Start a rotation: the new key signs after the propagation delay, the old one retires."""
    retiring = list(await repository.unretired(session))
    # With no key to sign in the meantime, waiting would only leave the service unable
    # to sign anything (tokens, credentials, status lists) for the propagation delay.
    delay = settings.signing_key_propagation_seconds if retiring else 0
    activates_at = now + timedelta(seconds=delay)
    for old in retiring:
        old.retired_at = max(activates_at, old.activates_at)
        old.publish_until = old.retired_at + max_signed_lifetime(settings)
        session.add(old)
    new = await create_key(session, settings, activates_at=activates_at, actor=actor)
    await append(
        session,
        "signing_key.rotated",
        {
            "actor": actor,
            "kid": new.kid,
            "activates_at": activates_at.isoformat(),
            "retired": [
                {
                    "kid": old.kid,
                    "retired_at": old.retired_at.isoformat() if old.retired_at else None,
                    "publish_until": old.publish_until.isoformat() if old.publish_until else None,
                }
                for old in retiring
            ],
        },
    )
    return new


async def list_keys(session: AsyncSession) -> Sequence[SigningKey]:
    """Every signing key the service has had, oldest first."""
    return await repository.every_key(session)


@dataclass(frozen=True)
class KeyRing:
    """The keys as of one moment: which one signs, which ones verify."""

    signing: tuple[str, OKPKey] | None
    published: dict[str, OKPKey]

    def resolve(self, kid: str) -> OKPKey | None:
        """A published (public) key by kid, for verification."""
        return self.published.get(kid)


async def load_keyring(session: AsyncSession, settings: IdentitySettings, now: datetime) -> KeyRing:
    """Read the published keys and unseal the one that signs now."""
    rows = await repository.published(session, now)
    published = {row.kid: jose.import_key(row.public_jwk) for row in rows}
    signing_rows = [
        row
        for row in rows
        if row.activates_at <= now and (row.retired_at is None or row.retired_at > now)
    ]
    signing = None
    if signing_rows:
        row = max(signing_rows, key=lambda r: r.activates_at)
        pem = unseal(settings.kek_bytes(), bytes(row.sealed_private), bound_to=_bound_to(row.kid))
        signing = (row.kid, OKPKey.import_key(pem))
    return KeyRing(signing=signing, published=published)
