"""The session: a sealed cookie, so the front end keeps no data of its own.

The cookie holds the signed-in person's access token, who he is (as the identity service
said at sign-in), a CSRF token and the time of his last request, sealed with AES-256-GCM
under the front end's session key (`cryptography`'s AESGCM; the cookie's name is the
associated data). Nobody can read the token out of the cookie or change a byte of it; a
stolen cookie still works until the token expires or the session idles out, as any bearer
credential would, which is why the cookie is HttpOnly, SameSite=Lax, Secure outside
development, and `__Host-` prefixed there. Signing out remembers the session's id in the
cache until its token expires, so a copy of the cookie is signed out as well.
"""

import base64
import binascii
import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12
_VERSION = 1


@dataclass
class Who:
    """The signed-in person, as the identity service described him at sign-in."""

    person_id: str
    username: str
    name: str
    party_id: str
    party_name: str
    party_roles: list[str]
    role: str

    def has_party_role(self, *roles: str) -> bool:
        """Whether his party has any of these roles (shipping_line, carrier, terminal, ...)."""
        return any(role in self.party_roles for role in roles)


@dataclass
class Session:
    """What the cookie carries; `changed` says whether it must be written back."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # Names one signed-in session: signing out remembers it as ended (`ended_key`), so a
    # copy of the cookie taken before is signed out too.
    sid: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    seen: int = 0
    language: str | None = None
    token: str | None = None
    token_expires: int = 0
    who: Who | None = None
    notice: str | None = None  # a one-time message for the next page (then cleared)
    changed: bool = True

    @property
    def signed_in(self) -> bool:
        """Whether a person is signed in (his token may still have expired: see `idle`)."""
        return self.token is not None and self.who is not None

    def sign_in(self, token: str, expires_at: int, who: Who, now: int) -> None:
        """A new signed-in session: a fresh CSRF token, so one from before does not carry over."""
        self.csrf, self.sid = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
        self.token, self.token_expires, self.who, self.seen = token, expires_at, who, now
        self.changed = True

    @property
    def ended_key(self) -> str:
        """The cache key that says this signed-in session has been signed out."""
        return f"ended:{self.sid}"

    def sign_out(self) -> None:
        """Forget the person and his token (the language stays)."""
        self.csrf, self.sid = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
        self.token, self.token_expires, self.who = None, 0, None
        self.changed = True

    def expired(self, now: int, idle_seconds: int) -> bool:
        """Whether the signed-in session has idled out or its token has expired."""
        return self.signed_in and (now - self.seen > idle_seconds or now >= self.token_expires)

    def take_notice(self) -> str | None:
        """The one-time message, cleared as it is read."""
        notice, self.notice = self.notice, None
        if notice is not None:
            self.changed = True
        return notice

    def to_json(self) -> bytes:
        """The sealed payload."""
        return json.dumps(
            {
                "v": _VERSION,
                "csrf": self.csrf,
                "sid": self.sid,
                "seen": self.seen,
                "lang": self.language,
                "token": self.token,
                "exp": self.token_expires,
                "who": asdict(self.who) if self.who else None,
                "notice": self.notice,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Session":
        """A session from its payload; ValueError where it is not one."""
        try:
            raw: dict[str, Any] = json.loads(data)
            if raw.get("v") != _VERSION:
                raise ValueError("another session version")
            who = Who(**raw["who"]) if raw.get("who") else None
            return cls(
                csrf=str(raw["csrf"]),
                sid=str(raw["sid"]),
                seen=int(raw["seen"]),
                language=raw.get("lang"),
                token=raw.get("token"),
                token_expires=int(raw.get("exp") or 0),
                who=who,
                notice=raw.get("notice"),
                changed=False,
            )
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError("not a session") from exc


class SessionCookie:
    """Seals and opens the session cookie."""

    def __init__(self, key: bytes, *, secure: bool) -> None:
        self._aead = AESGCM(key)
        self.secure = secure
        # The __Host- prefix makes the browser refuse the cookie unless it is Secure, for
        # Path=/ and without Domain: no sibling host can plant or shadow it.
        self.name = "__Host-ketenpas" if secure else "ketenpas_session"

    def seal(self, session: Session) -> str:
        """The cookie's value."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, session.to_json(), self.name.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, value: str | None) -> Session | None:
        """The session in a cookie value, or None where it is missing, altered or foreign."""
        if not value:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self.name.encode())
            return Session.from_json(plain)
        except (InvalidTag, ValueError, binascii.Error):
            return None
