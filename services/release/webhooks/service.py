"""Subscriptions: made, listed, read and deleted by their own party; deliveries replayed.

Who may manage them: a person of the party in the `admin` role, or the party's API client
with the scope `subscriptions:manage`. A subscription of another party is not found, as if
unknown. An event type is refused at subscription when the party could never be told of it
(an alert to anyone but port security, a selection to a carrier), so a subscription never
quietly waits for what its party may not know.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.auth import Caller
from services.release.releases.repository import OVERSEERS
from services.release.webhooks import repository
from services.release.webhooks.events import CATALOGUE, Audience
from services.release.webhooks.models import (
    Delivery,
    DeliveryStatus,
    Subscription,
    SubscriptionStatus,
)
from services.release.webhooks.schemas import SubscriptionCreate
from services.release.webhooks.secrets import seal
from shared.audit.events import append
from shared.problems import Conflict, Forbidden, InvalidInput, NotFound
from shared.webhooks.egress import EgressPolicy, check_endpoint_url
from shared.webhooks.signing import new_secret

MANAGE_SCOPE = "subscriptions:manage"
MAX_SUBSCRIPTIONS = 20


def may_manage(caller: Caller) -> None:
    """403 `subscription_manager_required` unless a party admin or a client with the scope."""
    if caller.is_person:
        allowed = caller.principal.person_role == "admin"
    else:
        allowed = MANAGE_SCOPE in caller.principal.scopes
    if not allowed:
        raise Forbidden(
            "subscription_manager_required",
            f"subscriptions are managed by a party's admin or its API client with {MANAGE_SCOPE!r}",
        )


def subscription_not_found() -> NotFound:
    """The one answer for a subscription that does not exist or is another party's."""
    return NotFound("subscription_not_found", "no such subscription")


def _may_be_told(audience: Audience, roles: frozenset[str]) -> bool:
    if audience == Audience.port_security:
        return "port_security" in roles
    if audience == Audience.inspection:
        return bool(roles & {"terminal", *OVERSEERS})
    if audience == Audience.terminal:
        return "terminal" in roles
    return True


def check_event_types(types: Sequence[str], roles: frozenset[str]) -> list[str]:
    """The wanted types, each known and one the party could be told of; 422 otherwise."""
    checked: list[str] = []
    for name in types:
        kind = CATALOGUE.get(name)
        if kind is None:
            raise InvalidInput("event_type_unknown", f"{name[:100]!r} is no event type")
        if not _may_be_told(kind.audience, roles):
            raise InvalidInput(
                "event_type_not_allowed", f"{name} is never sent to a party in your roles"
            )
        if name not in checked:
            checked.append(name)
    return checked


async def create(
    session: AsyncSession,
    *,
    caller: Caller,
    body: SubscriptionCreate,
    policy: EgressPolicy,
    key: bytes,
    now: datetime,
) -> tuple[Subscription, str]:
    """Subscribe the caller's party; the subscription and its secret (shown once)."""
    may_manage(caller)
    url = check_endpoint_url(body.url, policy)
    roles = frozenset(caller.principal.party_roles)
    types = check_event_types(body.event_types, roles)
    if len(await repository.party_subscriptions(session, caller.party_id)) >= MAX_SUBSCRIPTIONS:
        raise Conflict(
            "subscription_limit", f"a party has at most {MAX_SUBSCRIPTIONS} subscriptions"
        )
    secret = new_secret()
    subscription_id = uuid.uuid4()
    subscription = Subscription(
        id=subscription_id,
        party_id=caller.party_id,
        party_roles=sorted(roles),
        url=url,
        event_types=types,
        secret_sealed=seal(key, secret, subscription_id=subscription_id),
        created_by=caller.principal.actor,
        created_at=now,
    )
    repository.add_subscription(session, subscription)
    await append(
        session,
        "webhook.subscribed",
        {
            "subscription_id": str(subscription_id),
            "party_id": caller.party_id,
            "url": url,
            "event_types": types,
            "actor": caller.principal.actor,
        },
    )
    return subscription, secret


async def own(session: AsyncSession, caller: Caller, subscription_id: uuid.UUID) -> Subscription:
    """The caller's party's subscription, or 404."""
    may_manage(caller)
    found = await repository.party_subscription(session, caller.party_id, subscription_id)
    if found is None:
        raise subscription_not_found()
    return found


async def listed(session: AsyncSession, caller: Caller) -> Sequence[Subscription]:
    """The caller's party's subscriptions."""
    may_manage(caller)
    return await repository.party_subscriptions(session, caller.party_id)


async def delete(
    session: AsyncSession, *, caller: Caller, subscription_id: uuid.UUID, now: datetime
) -> None:
    """End a subscription: nothing more is fanned out or sent to it. Kept, marked deleted,
    so "who knew?" still names who was told."""
    subscription = await own(session, caller, subscription_id)
    subscription.status = SubscriptionStatus.deleted
    subscription.deleted_at = now
    session.add(subscription)
    await append(
        session,
        "webhook.unsubscribed",
        {
            "subscription_id": str(subscription_id),
            "party_id": caller.party_id,
            "actor": caller.principal.actor,
        },
    )


async def replay_one(
    session: AsyncSession,
    *,
    caller: Caller,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    now: datetime,
) -> Delivery:
    """Send a delivered or given-up delivery again, with the same `webhook-id`."""
    subscription = await own(session, caller, subscription_id)
    delivery = await repository.subscription_delivery(session, subscription.id, delivery_id)
    if delivery is None:
        raise NotFound("delivery_not_found", "no such delivery of this subscription")
    if delivery.status == DeliveryStatus.pending:
        raise Conflict("delivery_pending", "the delivery is still being sent")
    repository.replay(delivery, now=now)
    session.add(delivery)
    await _audit_replay(session, caller, subscription, [delivery])
    return delivery


async def replay_since(
    session: AsyncSession,
    *,
    caller: Caller,
    subscription_id: uuid.UUID,
    since: datetime,
    now: datetime,
) -> int:
    """Send again every delivered or given-up event since `since`, in event order."""
    subscription = await own(session, caller, subscription_id)
    deliveries = await repository.deliveries_since(session, subscription.id, since)
    for delivery in deliveries:
        repository.replay(delivery, now=now)
        session.add(delivery)
    if deliveries:
        await _audit_replay(session, caller, subscription, deliveries)
    return len(deliveries)


async def _audit_replay(
    session: AsyncSession,
    caller: Caller,
    subscription: Subscription,
    deliveries: Sequence[Delivery],
) -> None:
    await append(
        session,
        "webhook.replayed",
        {
            "subscription_id": str(subscription.id),
            "party_id": caller.party_id,
            "deliveries": [str(delivery.id) for delivery in deliveries],
            "actor": caller.principal.actor,
        },
    )
