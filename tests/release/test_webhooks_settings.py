"""Webhook settings: the demo key and private endpoints only in development; a subscription's
secret is kept sealed, bound to its row."""

import base64
import uuid

import pytest
from pydantic import ValidationError
from sqlmodel import select

from services.release.settings import ReleaseSettings
from services.release.webhooks.models import Subscription
from services.release.webhooks.secrets import SealError, seal, unseal
from shared.db import transaction
from shared.demo import DEMO_WEBHOOK_SECRET_KEY
from tests.release.port import Port
from tests.release.webhooks import READER_TYPES, manager_headers

REAL = base64.b64encode(bytes(range(32))).decode()
PRODUCTION = {
    "environment": "production",
    "log_signing_key": base64.b64encode(bytes(range(1, 33))).decode(),
    "inspection_vrf_key": base64.b64encode(bytes(range(2, 34))).decode(),
    "cache_url": "redis://127.0.0.1:6379/0",
    "identity_url": "https://identity.example",
}


def production(**extra: object) -> ReleaseSettings:
    return ReleaseSettings.model_validate({**PRODUCTION, **extra})


def test_production_takes_a_real_key_or_none() -> None:
    assert production(webhook_secret_key=REAL).webhook_key() == bytes(range(32))
    assert production().webhook_key() is None
    assert ReleaseSettings().webhook_key() is not None  # development: the demo key


@pytest.mark.parametrize(
    "spelling",
    [
        DEMO_WEBHOOK_SECRET_KEY,
        # The same 32 bytes with the unused low bits of the last character set.
        DEMO_WEBHOOK_SECRET_KEY[:-2] + "R=",
    ],
)
def test_production_refuses_the_demo_key(spelling: str) -> None:
    assert base64.b64decode(spelling) == base64.b64decode(DEMO_WEBHOOK_SECRET_KEY)
    with pytest.raises(ValidationError, match="webhook_secret_key"):
        production(webhook_secret_key=spelling)


def test_production_refuses_private_endpoints() -> None:
    with pytest.raises(ValidationError, match="webhook_allow_private"):
        production(webhook_secret_key=REAL, webhook_allow_private=True)


async def test_the_secret_is_stored_sealed_to_its_row(port: Port) -> None:
    response = await port.client.post(
        "/v1/subscriptions",
        json={"url": "https://tos.example.com/hook", "event_types": READER_TYPES},
        headers=await manager_headers(port, "carrier"),
    )
    secret = response.json()["secret"]
    async with transaction(port.release.state.sessions) as session:
        [row] = (await session.exec(select(Subscription))).all()
    key = port.release.state.settings.webhook_key()
    assert key is not None
    assert secret.encode() not in row.secret_sealed
    assert unseal(key, row.secret_sealed, subscription_id=row.id) == secret
    with pytest.raises(SealError):
        unseal(key, row.secret_sealed, subscription_id=uuid.uuid4())
    with pytest.raises(SealError):
        unseal(bytes(32), row.secret_sealed, subscription_id=row.id)
    assert unseal(key, seal(key, "x", subscription_id=row.id), subscription_id=row.id) == "x"
