"""Wrong passwords and codes: limited per person, per source and per person at a source."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi import FastAPI, Request

from services.identity.app import create_app
from services.identity.clock import current_time
from services.identity.sessions import ratelimit
from services.identity.sessions.ratelimit import (
    BASE_LOCKOUT_SECONDS,
    SignInLimiter,
    Source,
    TooManyAttempts,
    client_address,
)
from services.identity.settings import IdentitySettings
from shared.cache import Cache, MemoryCache, cache_from_url
from tests.conftest import running
from tests.identity.conftest import Clock
from tests.identity.factories import (
    PASSWORD,
    make_party,
    make_person,
    totp_now,
    wrong_code,
)

App = tuple[FastAPI, httpx.AsyncClient]
NOW = 1_800_000_000.0
WINDOW = 900


@pytest.fixture
async def cache(cache_url: tuple[str, str]) -> AsyncIterator[Cache]:
    """The backend's cache: in-process, or Redis in the PostgreSQL pass."""
    url, prefix = cache_url
    backend = cache_from_url(url, prefix + "limits")
    yield backend
    await backend.close()


def limiter_on(cache: Cache, *, per_person: int = 3, per_address: int = 10) -> SignInLimiter:
    return SignInLimiter(
        cache,
        per_person=per_person,
        per_address=per_address,
        per_kiosk=per_address,
        per_person_total=10 * per_person,
        window_seconds=WINDOW,
        base_lockout_seconds=BASE_LOCKOUT_SECONDS,
        max_lockout_seconds=8 * BASE_LOCKOUT_SECONDS,
    )


HOME = Source.address("192.0.2.1")


async def retry_after(
    limiter: SignInLimiter, *, now: float, username: str = "jan", source: Source = HOME
) -> int | None:
    """None when an attempt may be made now (it is given back unjudged), else the wait."""
    try:
        async with limiter.attempt(username=username, source=source, now=now):
            return None
    except TooManyAttempts as exc:
        return exc.retry_after


async def fail(
    limiter: SignInLimiter,
    times: int,
    *,
    now: float,
    username: str = "jan",
    source: Source = HOME,
) -> None:
    for _ in range(times):
        async with limiter.attempt(username=username, source=source, now=now) as attempt:
            await attempt.failed()


async def succeed(
    limiter: SignInLimiter, *, now: float, username: str = "jan", source: Source = HOME
) -> None:
    async with limiter.attempt(username=username, source=source, now=now) as attempt:
        await attempt.succeeded()


async def test_the_limit_locks_the_person_out(cache: Cache) -> None:
    limiter = limiter_on(cache)
    await fail(limiter, 2, now=NOW)
    assert await retry_after(limiter, now=NOW) is None
    await fail(limiter, 1, now=NOW)
    assert await retry_after(limiter, now=NOW) == BASE_LOCKOUT_SECONDS
    assert await retry_after(limiter, now=NOW + 10) == BASE_LOCKOUT_SECONDS - 10


async def test_the_lock_lifts_when_its_time_has_passed(cache: Cache) -> None:
    limiter = limiter_on(cache)
    await fail(limiter, 3, now=NOW)
    assert await retry_after(limiter, now=NOW + BASE_LOCKOUT_SECONDS - 1) == 1
    assert await retry_after(limiter, now=NOW + BASE_LOCKOUT_SECONDS) is None


async def test_each_further_failure_doubles_the_lock_out_up_to_the_cap(cache: Cache) -> None:
    limiter = limiter_on(cache)
    now = NOW
    await fail(limiter, 3, now=now)
    seen = []
    for _ in range(5):
        lockout = await retry_after(limiter, now=now)
        assert lockout is not None
        seen.append(lockout)
        now += lockout  # wait it out, then fail once more
        assert await retry_after(limiter, now=now) is None
        await fail(limiter, 1, now=now)
    base = BASE_LOCKOUT_SECONDS
    assert seen == [base, 2 * base, 4 * base, 8 * base, 8 * base]


async def test_after_a_lock_out_only_one_guess_per_lock_period(cache: Cache) -> None:
    limiter = limiter_on(cache)
    await fail(limiter, 3, now=NOW)
    later = NOW + BASE_LOCKOUT_SECONDS
    async with limiter.attempt(username="jan", source=HOME, now=later):
        # While the one guess is being judged, a second is refused, not let through.
        assert await retry_after(limiter, now=later) == 1


async def test_a_success_clears_the_persons_failures(cache: Cache) -> None:
    limiter = limiter_on(cache)
    await fail(limiter, 2, now=NOW)
    await succeed(limiter, now=NOW)
    await fail(limiter, 2, now=NOW)
    assert await retry_after(limiter, now=NOW) is None
    await fail(limiter, 1, now=NOW)
    assert await retry_after(limiter, now=NOW) == BASE_LOCKOUT_SECONDS


async def test_a_success_after_a_lock_out_starts_the_person_afresh(cache: Cache) -> None:
    limiter = limiter_on(cache)
    await fail(limiter, 3, now=NOW)
    later = NOW + BASE_LOCKOUT_SECONDS
    await succeed(limiter, now=later)
    await fail(limiter, 2, now=later)
    assert await retry_after(limiter, now=later) is None


async def test_people_are_counted_apart(cache: Cache) -> None:
    limiter = limiter_on(cache)
    await fail(limiter, 3, now=NOW, username="jan")
    assert await retry_after(limiter, now=NOW, username="jan") is not None
    assert await retry_after(limiter, now=NOW, username="piet") is None


async def test_a_person_locked_at_one_source_is_not_locked_at_another(cache: Cache) -> None:
    limiter = limiter_on(cache)
    await fail(limiter, 3, now=NOW)
    assert await retry_after(limiter, now=NOW) == BASE_LOCKOUT_SECONDS
    elsewhere = Source.address("198.51.100.7")
    assert await retry_after(limiter, now=NOW, source=elsewhere) is None
    assert await retry_after(limiter, now=NOW, source=Source.kiosk("client:T")) is None


async def test_many_sources_together_lock_the_person_out_everywhere(cache: Cache) -> None:
    limiter = limiter_on(cache)  # 3 per source, 30 in all
    for n in range(10):
        await fail(limiter, 3, now=NOW, source=Source.address(f"198.51.100.{n}"))
    fresh = Source.address("203.0.113.1")
    assert await retry_after(limiter, now=NOW, source=fresh) == BASE_LOCKOUT_SECONDS
    assert await retry_after(limiter, now=NOW, username="piet", source=fresh) is None


async def test_an_address_trying_many_names_is_locked_out(cache: Cache) -> None:
    limiter = limiter_on(cache, per_person=100, per_address=4)
    for name in ("a", "b", "c", "d"):
        await fail(limiter, 1, now=NOW, username=name)
    assert await retry_after(limiter, now=NOW, username="someone-else") == BASE_LOCKOUT_SECONDS
    other = Source.address("198.51.100.7")
    assert await retry_after(limiter, now=NOW, username="someone-else", source=other) is None


async def test_a_kiosk_trying_many_drivers_is_locked_out_and_other_kiosks_are_not(
    cache: Cache,
) -> None:
    limiter = limiter_on(cache, per_person=100, per_address=4)
    rogue, honest = Source.kiosk("client:EU.EORI.NL1"), Source.kiosk("client:EU.EORI.NL2")
    for name in ("a", "b", "c", "d"):
        await fail(limiter, 1, now=NOW, username=name, source=rogue)
    assert await retry_after(limiter, now=NOW, username="e", source=rogue) == BASE_LOCKOUT_SECONDS
    assert await retry_after(limiter, now=NOW, username="e", source=honest) is None


async def test_successes_do_not_use_up_a_sources_limit(cache: Cache) -> None:
    limiter = limiter_on(cache, per_person=100, per_address=4)
    for n in range(10):
        await succeed(limiter, now=NOW, username=f"driver-{n}")
    assert await retry_after(limiter, now=NOW, username="another") is None


async def test_a_burst_of_concurrent_attempts_gets_no_more_than_the_limit(cache: Cache) -> None:
    # Every attempt is reserved before it is judged: none is judged yet, and still the
    # fourth is refused.
    limiter = limiter_on(cache)
    async with AsyncExitStack() as stack:
        for _ in range(3):
            await stack.enter_async_context(limiter.attempt(username="jan", source=HOME, now=NOW))
        assert await retry_after(limiter, now=NOW) == 1
    # The three were given back unjudged (neither failed nor succeeded): three again.
    await fail(limiter, 3, now=NOW)
    assert await retry_after(limiter, now=NOW) == BASE_LOCKOUT_SECONDS


def test_ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert Source.address("2001:db8:1:2::1") == Source.address("2001:db8:1:2:ffff::9")
    assert Source.address("2001:db8:1:2::1") != Source.address("2001:db8:1:3::1")
    assert Source.address("::ffff:192.0.2.1") == Source.address("192.0.2.1")
    assert len(Source.address("x" * 500).subject) < 80  # no header makes keys grow


async def test_failures_older_than_the_window_are_forgotten() -> None:
    moments = [0.0]
    limiter = limiter_on(MemoryCache("t", clock=lambda: moments[0]))
    await fail(limiter, 2, now=NOW)
    moments[0] += WINDOW  # the counter expires in the cache
    await fail(limiter, 2, now=NOW + WINDOW)
    assert await retry_after(limiter, now=NOW + WINDOW) is None


async def test_a_lock_out_is_forgotten_a_window_after_it_ended() -> None:
    moments = [0.0]
    limiter = limiter_on(MemoryCache("t", clock=lambda: moments[0]))
    await fail(limiter, 3, now=NOW)
    moments[0] += BASE_LOCKOUT_SECONDS + WINDOW
    later = NOW + BASE_LOCKOUT_SECONDS + WINDOW
    await fail(limiter, 1, now=later)
    assert await retry_after(limiter, now=later) is None  # counted afresh, not doubled


async def test_foreign_values_in_the_cache_do_not_break_the_limiter(cache: Cache) -> None:
    limiter = limiter_on(cache)
    await fail(limiter, 3, now=NOW)
    await fail(limiter, 1, now=NOW, username="other")
    for key in await _lock_keys(cache):
        await cache.delete(key)
        await cache.set_if_absent(key, "garbage", 60)
    # No lock can be read, but the counters still say the guesses are used up.
    assert await retry_after(limiter, now=NOW) == 1
    assert await retry_after(limiter, now=NOW, username="other") is None


async def _lock_keys(cache: Cache) -> list[str]:
    # Only the keys this test wrote: its two people, at its address and anywhere.
    subjects = [
        ratelimit._pair("jan", HOME),
        ratelimit._pair("other", HOME),
        ratelimit._person("jan"),
        ratelimit._person("other"),
        HOME.subject,
    ]
    return [f"signin:lock:{subject}" for subject in subjects]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SignInLimiter(MemoryCache(), per_person=0, per_address=1, window_seconds=60)


# --- over HTTP -----------------------------------------------------------------------------


async def test_sign_in_limit_reached_refuses_even_the_right_code_then_lifts(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"))
    attempt = {"username": person.username, "password": PASSWORD}
    limit = app.state.settings.sign_in_failures_per_person
    for _ in range(limit):
        answer = await client.post("/v1/sessions", json={**attempt, "otp": wrong_code(clock.now)})
        assert answer.status_code == 401
    locked = await client.post("/v1/sessions", json={**attempt, "otp": totp_now(clock.now)})
    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_attempts"
    assert locked.headers["content-type"] == "application/problem+json"
    assert locked.headers["retry-after"] == str(BASE_LOCKOUT_SECONDS)
    wrong_password = await client.post(
        "/v1/sessions",
        json={**attempt, "password": "nope-nope-nope", "otp": totp_now(clock.now)},
    )
    assert wrong_password.status_code == 429  # no guessing while locked, right or wrong

    clock.now += BASE_LOCKOUT_SECONDS
    lifted = await client.post("/v1/sessions", json={**attempt, "otp": totp_now(clock.now)})
    assert lifted.status_code == 200, lifted.text
    # the success cleared the count: a new failure does not lock again at once
    clock.now += 30
    again = await client.post("/v1/sessions", json={**attempt, "otp": wrong_code(clock.now)})
    assert again.status_code == 401


async def test_wrong_passwords_lock_out_like_wrong_codes(identity_app: App, clock: Clock) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"))
    for _ in range(app.state.settings.sign_in_failures_per_person):
        await client.post(
            "/v1/sessions",
            json={"username": person.username, "password": "wrong-wrong", "otp": "000000"},
        )
    right = {"username": person.username, "password": PASSWORD, "otp": totp_now(clock.now)}
    assert (await client.post("/v1/sessions", json=right)).status_code == 429


async def test_an_unknown_username_is_locked_out_like_a_known_one(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    statuses = []
    for _ in range(app.state.settings.sign_in_failures_per_person + 1):
        answer = await client.post(
            "/v1/sessions", json={"username": "nobody", "password": "x", "otp": "000000"}
        )
        statuses.append(answer.status_code)
    assert statuses[-1] == 429 and set(statuses[:-1]) == {401}


async def test_the_address_limit_spans_usernames_and_spares_other_addresses(
    identity_app: App, clock: Clock
) -> None:
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"))
    for index in range(app.state.settings.sign_in_failures_per_address):
        await client.post(
            "/v1/sessions", json={"username": f"guess-{index}", "password": "x", "otp": "000000"}
        )
    right = {"username": person.username, "password": PASSWORD, "otp": totp_now(clock.now)}
    assert (await client.post("/v1/sessions", json=right)).status_code == 429
    elsewhere = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://testserver") as other:
        assert (await other.post("/v1/sessions", json=right)).status_code == 200


@pytest.mark.postgres  # with Redis: an in-process cache belongs to one replica only
async def test_the_lock_out_holds_across_replicas(identity_app: App, clock: Clock) -> None:
    # A second app on the same database and cache stands in for another replica.
    app, client = identity_app
    person = await make_person(app, await make_party(app, "carrier"))
    for _ in range(app.state.settings.sign_in_failures_per_person):
        await client.post(
            "/v1/sessions",
            json={"username": person.username, "password": PASSWORD, "otp": "000000"},
        )
    replica = create_app(app.state.settings)
    replica.dependency_overrides[current_time] = clock
    async with running(replica) as other:
        right = {"username": person.username, "password": PASSWORD, "otp": totp_now(clock.now)}
        assert (await other.post("/v1/sessions", json=right)).status_code == 429


# --- the client address behind proxies -----------------------------------------------------


def request_from(peer: str, *headers: tuple[str, str]) -> Request:
    """A request as the server hands it to the app: its peer and raw headers."""
    raw = [(name.lower().encode(), value.encode()) for name, value in headers]
    return Request({"type": "http", "headers": raw, "client": (peer, 4000)})


def behind(*proxies: str, header: str = "x-forwarded-for") -> IdentitySettings:
    return IdentitySettings(trusted_proxies=",".join(proxies), proxy_header=header)


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    request = request_from("203.0.113.5", ("X-Forwarded-For", "198.51.100.1"))
    assert client_address(request, IdentitySettings()) == "203.0.113.5"


def test_a_peer_that_is_no_trusted_proxy_is_the_client_whatever_it_forwards() -> None:
    request = request_from("203.0.113.5", ("X-Forwarded-For", "198.51.100.1"))
    assert client_address(request, behind("10.0.0.0/8")) == "203.0.113.5"


def test_the_nearest_untrusted_hop_is_the_client() -> None:
    settings = behind("10.0.0.0/8", "192.0.2.7")
    request = request_from(
        "10.0.0.2",
        ("X-Forwarded-For", "1.2.3.4, 198.51.100.9"),  # the first written by the client
        ("X-Forwarded-For", "192.0.2.7"),  # a second field: a further proxy of ours
    )
    assert client_address(request, settings) == "198.51.100.9"


def test_the_forwarded_header_is_read_when_configured_and_only_then() -> None:
    fields = (
        ("Forwarded", 'for="[2001:db8::7]:4711";proto=https, for=198.51.100.3:80'),
        ("X-Forwarded-For", "203.0.113.99"),
    )
    request = request_from("10.0.0.2", *fields)
    assert client_address(request, behind("10.0.0.0/8", header="Forwarded")) == "198.51.100.3"
    assert client_address(request, behind("10.0.0.0/8")) == "203.0.113.99"
    only_ipv6 = request_from("10.0.0.2", ("Forwarded", 'for="[2001:db8::7]:4711"'))
    assert client_address(only_ipv6, behind("10.0.0.0/8", header="forwarded")) == "2001:db8::7"


def test_a_trusted_proxy_that_forwards_nothing_is_the_client() -> None:
    assert client_address(request_from("10.0.0.2"), behind("10.0.0.0/8")) == "10.0.0.2"
