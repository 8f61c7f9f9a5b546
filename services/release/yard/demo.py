"""The demo port's yard: containers the demo terminal announces for the demo shipping line."""

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.yard import service
from services.release.yard.models import YardEntry, YardState
from services.release.yard.schemas import YardEntryCreate
from shared import iso6346

ACTOR = "demo-seed"


def _number(serial: int) -> str:
    body = f"NZSU{serial:06d}"
    return body + str(iso6346.check_digit(body))


# (container, state): some in the yard, one still expected from the vessel.
DEMO_YARD = (
    (_number(100001), YardState.in_yard),
    (_number(100002), YardState.in_yard),
    (_number(100003), YardState.in_yard),
    (_number(100004), YardState.expected),
)


async def seed(
    session: AsyncSession, *, terminal_id: str, shipping_line_id: str, now: datetime
) -> list[YardEntry]:
    """Announce the demo containers at the demo terminal for the demo line (audited)."""
    return [
        await service.announce(
            session,
            terminal_id=terminal_id,
            body=YardEntryCreate(container=container, shipping_line=shipping_line_id, state=state),
            actor=ACTOR,
            now=now,
        )
        for container, state in DEMO_YARD
    ]
