"""Keyed hashes of identity documents: what integrity screening stores instead of them.

A document is the pair (document number, date of birth), normalised (the number upper case
without spaces or dashes, the date ISO 8601) and hashed with HMAC-SHA256 under a key only
the identity service holds, over a message with its own prefix, so that the hash means
nothing elsewhere and cannot be confused with another HMAC made under the same key. Without
the key a stored hash answers no guess; with it, only the matching job compares hashes.

Keys rotate: each hash is stored with the id of the key that made it, and a document is
hashed under every configured key (the current one and the retired ones still kept for
matching), so hashes stay comparable as long as the old key is kept. A key's id is derived
from the key itself (HMAC of a fixed label), so that no setting can give a key a wrong id.
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import date

from services.identity.settings import IdentitySettings
from shared.problems import InvalidInput

_MESSAGE_PREFIX = b"ketenpas-screening-v1\n"
_KEY_ID_LABEL = b"ketenpas-screening-key-id-v1"
# Passport, identity-card and driving-licence numbers of the EU fit in this, once spaces and
# dashes are gone (an NL passport has 9 characters, a driving licence 10 digits).
_DOCUMENT_NUMBER = re.compile(r"[A-Z0-9]{5,30}", re.ASCII)
_SEPARATORS = str.maketrans("", "", " -")
OLDEST_BIRTH_DATE = date(1900, 1, 1)


@dataclass(frozen=True)
class IdentityDocument:
    """A normalised document number and date of birth; never printed, logged or stored."""

    number: str = field(repr=False)
    date_of_birth: date = field(repr=False)

    @classmethod
    def of(cls, number: str, date_of_birth: date, *, today: date) -> "IdentityDocument":
        """Normalise and check a document; 422 without repeating what was sent."""
        normalised = number.translate(_SEPARATORS).upper()
        if _DOCUMENT_NUMBER.fullmatch(normalised) is None:
            raise InvalidInput(
                "invalid_document_number",
                "a document number has 5 to 30 letters A-Z and digits (spaces and dashes "
                "are left out)",
            )
        if not OLDEST_BIRTH_DATE <= date_of_birth <= today:
            raise InvalidInput(
                "invalid_date_of_birth", "the date of birth is before 1900 or in the future"
            )
        return cls(number=normalised, date_of_birth=date_of_birth)

    def message(self) -> bytes:
        """The canonical message that is hashed: prefix, then `NUMBER|YYYY-MM-DD`."""
        return _MESSAGE_PREFIX + f"{self.number}|{self.date_of_birth.isoformat()}".encode()


@dataclass(frozen=True)
class ScreeningKey:
    """One HMAC key and its derived id."""

    key_id: str
    secret: bytes = field(repr=False)

    @classmethod
    def of(cls, secret: bytes) -> "ScreeningKey":
        """A key with the id derived from it (12 base64url characters, 72 bits)."""
        tag = hmac.new(secret, _KEY_ID_LABEL, hashlib.sha256).digest()[:9]
        return cls(key_id=base64.urlsafe_b64encode(tag).decode(), secret=secret)

    def digest(self, document: IdentityDocument) -> bytes:
        """HMAC-SHA256 of the document's canonical message under this key (32 bytes)."""
        return hmac.new(self.secret, document.message(), hashlib.sha256).digest()


@dataclass(frozen=True)
class ScreeningKeys:
    """The current key (first) and the retired keys still compared with."""

    keys: tuple[ScreeningKey, ...]

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> "ScreeningKeys":
        """The configured keys, the current one first, each once."""
        found: dict[str, ScreeningKey] = {}
        for _name, secret in settings.screening_key_bytes():
            key = ScreeningKey.of(secret)
            found.setdefault(key.key_id, key)
        return cls(keys=tuple(found.values()))

    @property
    def current(self) -> ScreeningKey:
        """The key that hashes new documents."""
        return self.keys[0]

    def digests(self, document: IdentityDocument) -> dict[str, bytes]:
        """The document's hash under every key, by key id."""
        return {key.key_id: key.digest(document) for key in self.keys}
