"""Demo secrets, for development mode only.

Everything here is public (it is in the repository), so it protects nothing. The settings
refuse every value in `DEMO_SECRETS` unless the environment is `development`.
"""

# DEMO ONLY: Ed25519 seeds (base64) that sign the audit-log checkpoints of a laptop demo.
DEMO_IDENTITY_LOG_KEY = "cnHvD8XtkgevPlh96AKGwF8GnObamSqo9M+4DA7w5G8="
DEMO_RELEASE_LOG_KEY = "B7Plk5gzAbiBn2ySO+F4vFr4jlBim7cTwX1qexzBqV8="

# DEMO ONLY: the identity service's key-encryption key (AES-256-GCM, base64), which seals
# custodial party keys, TOTP secrets and the service's own signing keys at rest.
DEMO_IDENTITY_KEK = "OAUlu92221KbDOb/8we9qdkQHo9LyVZEFXnpY6M/KQw="

DEMO_SECRETS = frozenset({DEMO_IDENTITY_LOG_KEY, DEMO_RELEASE_LOG_KEY, DEMO_IDENTITY_KEK})
