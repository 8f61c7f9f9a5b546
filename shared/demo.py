"""Demo secrets, for development mode only.

Everything here is public (it is in the repository), so it protects nothing. The settings
refuse every value that `is_demo_secret` recognises unless the environment is `development`:
they compare decoded bytes, not text, because one key has many base64 spellings (the
unused low bits of the last character, the URL-safe alphabet, missing padding), and every
one of them would open or sign with the same key.
"""

import base64
import binascii
import re

# DEMO ONLY: Ed25519 seeds (base64) that sign the audit-log checkpoints of a laptop demo.
DEMO_IDENTITY_LOG_KEY = "cnHvD8XtkgevPlh96AKGwF8GnObamSqo9M+4DA7w5G8="
DEMO_RELEASE_LOG_KEY = "B7Plk5gzAbiBn2ySO+F4vFr4jlBim7cTwX1qexzBqV8="

# DEMO ONLY: the Ed25519 seed (base64) of the release service's inspection VRF key: with it
# anyone can compute every draw of a laptop demo in advance.
DEMO_RELEASE_VRF_KEY = "128lnSuqOyC5HDzSKgb96orxxgKgZ1coTr+fjLVQKaU="

# DEMO ONLY: the identity service's key-encryption key (AES-256-GCM, base64), which seals
# custodial party keys, TOTP secrets and the service's own signing keys at rest.
DEMO_IDENTITY_KEK = "OAUlu92221KbDOb/8we9qdkQHo9LyVZEFXnpY6M/KQw="

# DEMO ONLY: the web front end's session key (AES-256-GCM, base64), which seals the
# signed-in person's access token in his session cookie.
DEMO_WEB_SESSION_KEY = "rKq1b0Yd3k8V2qXbq2b3m9iN9y7cQyq0rA6v2d3p4ZE="

# DEMO ONLY: the Ed25519 seed (base64) of the demo witness's cosigning key: with it anyone
# can cosign a laptop demo's checkpoints.
DEMO_WITNESS_KEY = "m5l5eo3Cd7aV25N2LdZiIPvehfm0gLRahTUqpruf1ME="

# DEMO ONLY: the key (AES-256-GCM, base64) that seals the release service's webhook
# subscriptions' signing secrets at rest on a laptop demo.
DEMO_WEBHOOK_SECRET_KEY = "G13unInXGGTwTQ76zwCcezcALR97OLUgUgThiY5VBmQ="  # noqa: S105  (public)

DEMO_SECRETS = frozenset(
    {
        DEMO_WEBHOOK_SECRET_KEY,
        DEMO_WITNESS_KEY,
        DEMO_IDENTITY_LOG_KEY,
        DEMO_RELEASE_LOG_KEY,
        DEMO_RELEASE_VRF_KEY,
        DEMO_IDENTITY_KEK,
        DEMO_WEB_SESSION_KEY,
    }
)

_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")


def _decodings(value: str) -> set[bytes]:
    """Every byte string a lenient base64 reader could make of `value`."""
    found: set[bytes] = set()
    standard = value.translate(str.maketrans("-_", "+/"))
    # Lenient readers drop whatever is not in the alphabet (whitespace, padding, junk).
    letters = _NOT_BASE64.sub("", standard)
    for text in (letters, letters[: len(letters) - len(letters) % 4]):
        try:
            found.add(base64.b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError):
            continue
    return found


_DEMO_BYTES = frozenset(raw for secret in DEMO_SECRETS for raw in _decodings(secret))


def is_demo_secret(value: str) -> bool:
    """Whether `value` is one of the demo secrets, in whatever base64 spelling."""
    return value in DEMO_SECRETS or not _DEMO_BYTES.isdisjoint(_decodings(value))
