"""How the release service reads the identity service's refusals and outages.

Shared by the directory (public documents, cached) and the API client (calls made for a
caller): the identity service's own problem codes reach the caller; anything else that
goes wrong there is one answer, `identity_unavailable` (503), with the reason in the log.
"""

import re

import httpx
import structlog

from shared.problems import PROBLEM_MEDIA_TYPE, Problem

logger = structlog.get_logger(__name__)

# The identity service's codes are snake_case words; anything else is not passed on.
_PROBLEM_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


class IdentityUnavailable(Problem):
    """503: the identity service cannot be reached and what we hold is too old to trust."""

    status = 503


def problem_code(response: httpx.Response, status: int) -> str | None:
    """The `code` of an RFC 9457 answer with this status; None for any other answer."""
    media_type = response.headers.get("content-type", "")
    if response.status_code != status or not media_type.startswith(PROBLEM_MEDIA_TYPE):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) and _PROBLEM_CODE.fullmatch(code) else None


def retry_after(response: httpx.Response) -> int | None:
    """The delay of a `Retry-After` in seconds (the header, else the problem's member)."""
    header = response.headers.get("retry-after", "")
    if header.isascii() and header.isdigit():
        return int(header)
    member = response.json().get("retry_after")
    return member if isinstance(member, int) and not isinstance(member, bool) else None


def unavailable(call: str, reason: str) -> IdentityUnavailable:
    """The one answer for an identity service that cannot answer; the log says why."""
    logger.warning("identity_call_failed", call=call, reason=reason)
    return IdentityUnavailable("identity_unavailable", "the identity service cannot answer now")
