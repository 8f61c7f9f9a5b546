"""Whatever arrives, the release service answers with a problem document, never a 500."""

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.release.chains import create_release
from tests.release.port import Port

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = (
    "container",
    "terminal",
    "release_to",
    "valid_until",
    "reference",
    "link",
    "gate_pass",
    "driver",
    "otp",
    "kind",
    "to",
    "ack",
    "reason",
)
BODIES = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6) | JSON
PATHS = st.sampled_from(
    [
        ("post", "/v1/releases"),
        ("post", "/v1/releases/{id}/links"),
        ("post", "/v1/releases/{id}/links/0/accept"),
        ("post", "/v1/releases/{id}/links/0/decline"),
        ("post", "/v1/releases/{id}/links/0/withdraw"),
        ("put", "/v1/releases/{id}/holds/customs"),
        ("post", "/v1/gate/decisions"),
        ("post", "/v1/gate/decisions/{id}/complete"),
    ]
)
CALLERS = st.sampled_from(["line", "forwarder", "terminal", "customs", "other_carrier"])


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(route=PATHS, body=BODIES, caller=CALLERS)
async def test_random_bodies_never_cause_a_500(
    port: Port, route: tuple[str, str], body: Any, caller: str
) -> None:
    # The port (and its release) is shared by the examples: each only has to be refused.
    release_id = getattr(port.release.state, "fuzz_release", None)
    if release_id is None:
        release_id = port.release.state.fuzz_release = (await create_release(port)).release_id
    method, path = route
    response = await port.client.request(
        method, path.format(id=release_id), json=body, headers=port[caller].headers
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert isinstance(response.json()["code"], str)
