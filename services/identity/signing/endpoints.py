"""The identity service's published keys."""

from fastapi import APIRouter, Response

from services.identity.deps import KeyRingDep
from shared import jose

router = APIRouter(tags=["keys"])


@router.get("/.well-known/jwks.json", summary="The service's signing keys (JWKS)")
async def jwks(ring: KeyRingDep, response: Response) -> dict[str, list[dict[str, str]]]:
    """Every key that signs or has signed something still valid, and the next one."""
    # Shorter than the propagation delay, so a verifier sees a new key before it signs.
    response.headers["Cache-Control"] = "public, max-age=60"
    return jose.jwks(ring.published.values())
