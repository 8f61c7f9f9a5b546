"""TOTP (RFC 6238) as Ketenpas uses it: SHA-1, 30-second steps, 6 digits.

These are the parameters every authenticator app and hardware TOTP token supports, so a
driver without a smartphone uses a token the same way. Codes come from pyotp; this module
adds what pyotp does not give: WHICH time step a code matched, so that the caller can
accept each step once (RFC 6238 §5.2), and a comparison that never raises on hostile input.
"""

import hmac
import io

import pyotp
import segno

ISSUER = "Ketenpas"
DIGITS = 6
STEP_SECONDS = 30
# One step either side of now: RFC 6238 §5.2's recommended allowance for clock drift and
# for the time it takes to type a code.
VALID_WINDOW = 1


def new_secret() -> str:
    """A fresh random secret: 160 bits (RFC 4226 §4), base32 as authenticator apps expect."""
    return pyotp.random_base32(length=32)


def time_step(at: float) -> int:
    """The RFC 6238 time step T of a moment: floor(seconds since the epoch / 30)."""
    return int(at // STEP_SECONDS)


def code_at(secret: str, step: int, *, digits: int = DIGITS) -> str:
    """The code of `secret` for time step `step`."""
    totp = pyotp.TOTP(secret, digits=digits, interval=STEP_SECONDS)
    code: str = totp.generate_otp(step)
    return code


def matching_steps(
    secret: str,
    code: str,
    *,
    now: float,
    digits: int = DIGITS,
    window: int = VALID_WINDOW,
) -> list[int]:
    """The time steps within `window` of `now` whose code is `code`, oldest first."""
    if len(code) != digits or not code.isascii() or not code.isdigit():
        return []
    current = time_step(now)
    candidates = range(max(0, current - window), current + window + 1)
    # Every candidate is compared, matched or not, in constant time each, so the answer
    # time does not tell which step (if any) matched.
    matches = [
        step
        for step in candidates
        if hmac.compare_digest(code_at(secret, step, digits=digits).encode(), code.encode())
    ]
    return matches


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads: Ketenpas:<username>, issuer Ketenpas."""
    uri: str = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=ISSUER
    )
    return uri


def qr_svg(uri: str) -> str:
    """The URI as a QR code, an SVG document to show on a screen or print."""
    out = io.BytesIO()
    segno.make(uri, error="m", micro=False).save(out, kind="svg", scale=4, xmldecl=False)
    return out.getvalue().decode()
