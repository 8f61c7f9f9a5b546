"""Webhook subscriptions over HTTP: subscribe, list, read, delete; deliveries and replays."""

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from services.release.access.service import record_shown
from services.release.deps import CurrentCaller, NowDep, SettingsDep
from services.release.releases.repository import containers_of
from services.release.webhooks import repository, service
from services.release.webhooks.models import Delivery, DeliveryStatus, Subscription
from services.release.webhooks.schemas import (
    DeliveryPage,
    DeliveryView,
    ReplayResult,
    ReplaySince,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionList,
    SubscriptionView,
)
from shared.deps import ReadSessionDep, SessionDep
from shared.paging import next_cursor, read_cursor
from shared.problems import Problem, problem_responses
from shared.webhooks.egress import EgressPolicy

router = APIRouter(prefix="/v1/subscriptions", tags=["webhooks"])


def _view(subscription: Subscription) -> SubscriptionView:
    return SubscriptionView(
        id=subscription.id,
        url=subscription.url,
        event_types=list(subscription.event_types),
        status=subscription.status,
        failing_since=subscription.failing_since,
        created_at=subscription.created_at,
    )


def _delivery(delivery: Delivery) -> DeliveryView:
    pending = delivery.status == DeliveryStatus.pending
    return DeliveryView(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        release_id=delivery.release_id,
        occurred_at=delivery.occurred_at,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if pending else None,
        last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        delivered_at=delivery.delivered_at,
        replays=delivery.replays,
        created_at=delivery.created_at,
    )


@router.post(
    "",
    status_code=201,
    summary="Subscribe the caller's party to events (its admin, or a client)",
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def create_subscription(
    body: SubscriptionCreate,
    caller: CurrentCaller,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    now: NowDep,
) -> SubscriptionCreated:
    """The answer carries the signing `secret`, shown this once: keep it.

    `url` is an `https://` URL (no credentials, no private, loopback or link-local
    address: 422 `endpoint_…`); `event_types` are from the catalogue (422
    `event_type_unknown`), each one the party could be told of (422
    `event_type_not_allowed`).
    """
    key = settings.webhook_key()
    if key is None:
        raise Problem("webhooks_not_configured", "this deployment sends no webhooks", status=503)
    subscription, secret = await service.create(
        session,
        caller=caller,
        body=body,
        policy=EgressPolicy(allow_private=settings.webhook_allow_private),
        key=key,
        now=now,
    )
    response.headers["Location"] = f"/v1/subscriptions/{subscription.id}"
    return SubscriptionCreated(**_view(subscription).model_dump(), secret=secret)


@router.get(
    "",
    summary="The caller's party's subscriptions",
    responses=problem_responses(401, 403, 503),
)
async def list_subscriptions(caller: CurrentCaller, session: ReadSessionDep) -> SubscriptionList:
    """Its own only; never a secret."""
    return SubscriptionList(
        subscriptions=[_view(item) for item in await service.listed(session, caller)]
    )


@router.get(
    "/{subscription_id}",
    summary="One of the caller's party's subscriptions",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def get_subscription(
    subscription_id: uuid.UUID, caller: CurrentCaller, session: ReadSessionDep
) -> SubscriptionView:
    """404 `subscription_not_found` also for another party's."""
    return _view(await service.own(session, caller, subscription_id))


@router.delete(
    "/{subscription_id}",
    status_code=204,
    summary="End a subscription",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def delete_subscription(
    subscription_id: uuid.UUID, caller: CurrentCaller, session: SessionDep, now: NowDep
) -> Response:
    """Nothing more is sent to it; deliveries in flight may still arrive."""
    await service.delete(session, caller=caller, subscription_id=subscription_id, now=now)
    return Response(status_code=204)


@router.get(
    "/{subscription_id}/deliveries",
    summary="The subscription's deliveries, oldest first",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def list_deliveries(
    subscription_id: uuid.UUID,
    request: Request,
    caller: CurrentCaller,
    session: ReadSessionDep,
    now: NowDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeliveryPage:
    """Paged with `cursor` (the `next` of the page before; 422 `cursor_invalid`). A read
    of each release the page names, in the access log (`webhooks.deliveries`)."""
    subscription = await service.own(session, caller, subscription_id)
    rows = await repository.subscription_deliveries(
        session, subscription.id, after=read_cursor(cursor), limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    shown = await _releases_shown(session, rows)
    if shown:  # a page naming no release (none yet, or only alerts) shows no release data
        await record_shown(
            request.app.state.sessions, caller, action="webhooks.deliveries", shown=shown, now=now
        )
    following = next_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return DeliveryPage(deliveries=[_delivery(row) for row in rows], next=following)


async def _releases_shown(
    session: AsyncSession, rows: Sequence[Delivery]
) -> list[tuple[uuid.UUID | None, str]]:
    """Each release a page of deliveries names, once, in the page's order, with its container."""
    release_ids = list(dict.fromkeys(row.release_id for row in rows if row.release_id))
    containers = await containers_of(session, release_ids)
    return [(release_id, containers[release_id]) for release_id in release_ids]


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/replay",
    status_code=202,
    summary="Send a delivery again (same webhook-id, signed anew)",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def replay_delivery(
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    caller: CurrentCaller,
    session: SessionDep,
    now: NowDep,
) -> DeliveryView:
    """409 `delivery_pending` while it is still being sent."""
    delivery = await service.replay_one(
        session, caller=caller, subscription_id=subscription_id, delivery_id=delivery_id, now=now
    )
    return _delivery(delivery)


@router.post(
    "/{subscription_id}/replay",
    status_code=202,
    summary="Send again every delivered or given-up event since a moment",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def replay_since(
    subscription_id: uuid.UUID,
    body: ReplaySince,
    caller: CurrentCaller,
    session: SessionDep,
    now: NowDep,
) -> ReplayResult:
    """In event order, each with the `webhook-id` it had (at most 1,000 per request)."""
    count = await service.replay_since(
        session, caller=caller, subscription_id=subscription_id, since=body.since, now=now
    )
    return ReplayResult(replayed=count)
