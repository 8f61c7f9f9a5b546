"""The token endpoint (`POST /v1/token`) and authorization-server discovery (RFC 8414).

The form body is read here rather than through FastAPI's `Form`: that needs the
python-multipart package for a format (`application/x-www-form-urlencoded`) the standard
library parses, and OAuth's rules for it are stricter and different from a generic
form's: one occurrence per parameter, empty means absent, unknown parameters ignored
(RFC 6749 §3.2), and every refusal an RFC 6749 error.
"""

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError

from services.identity.deps import KeyRingCacheDep, NowDep, SettingsDep
from services.identity.oauth import service
from services.identity.oauth.schemas import AuthorizationServerMetadata, TokenForm, TokenResponse
from services.identity.oauth.service import OAuthError
from shared.deps import CacheDep, SessionDep
from shared.jose import DEFAULT_ALLOWED_ALGS, MAX_TOKEN_LENGTH
from shared.problems import problem_responses

router = APIRouter(tags=["oauth"])

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
#: A token request is an assertion (at most MAX_TOKEN_LENGTH) and a few short parameters.
MAX_FORM_BYTES = MAX_TOKEN_LENGTH + 4 * 1024
MAX_FORM_FIELDS = 32
_PARAMETERS = frozenset(TokenForm.model_fields)


def _form_refused(code: str, detail: str, *, status: int = 400) -> OAuthError:
    return OAuthError("invalid_request", code, detail, status=status)


def check_content_type(content_type: str | None) -> None:
    """Only `application/x-www-form-urlencoded` (in UTF-8) is a token request (RFC 6749 §4.4.2)."""
    media_type, *parameters = (content_type or "").split(";")
    if media_type.strip().lower() != FORM_MEDIA_TYPE:
        raise _form_refused(
            "unsupported_media_type", f"send the request as {FORM_MEDIA_TYPE}", status=415
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise _form_refused("unsupported_media_type", "the form must be UTF-8", status=415)


def parse_token_form(body: bytes) -> TokenForm:
    """The token request parameters of a form body; invalid_request if it is not one."""
    try:
        # Form bodies are ASCII on the wire; anything else is percent-encoded UTF-8.
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=True,
            max_num_fields=MAX_FORM_FIELDS,
            encoding="utf-8",
            errors="strict",
        )
    except ValueError:  # also UnicodeDecodeError, and more than MAX_FORM_FIELDS fields
        raise _form_refused(
            "form_malformed", "the body is not a form of UTF-8 name=value pairs"
        ) from None
    values: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name not in _PARAMETERS:
            continue  # RFC 6749 §3.2: unrecognised parameters MUST be ignored
        if name in seen:
            raise _form_refused("parameter_repeated", f"{name} is given more than once")
        seen.add(name)
        if value:  # RFC 6749 §3.2: a parameter without a value counts as omitted
            values[name] = value
    try:
        return TokenForm.model_validate(values)
    except ValidationError as exc:
        names = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
        raise _form_refused("parameter_invalid", f"invalid parameters: {names}") from None


async def read_token_form(request: Request) -> TokenForm:
    """Read and parse a token request's form body, refusing oversize bodies early."""
    check_content_type(request.headers.get("content-type"))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise _too_large()
    return parse_token_form(bytes(body))


def _too_large() -> OAuthError:
    return _form_refused(
        "body_too_large", f"token requests are limited to {MAX_FORM_BYTES} bytes", status=413
    )


TokenFormDep = Annotated[TokenForm, Depends(read_token_form)]


@router.post(
    "/v1/token",
    summary="Access token for an API client (client credentials, private_key_jwt)",
    response_model=TokenResponse,
    # RFC 6749 §5.2 error responses are problem documents here like every other refusal:
    # OAuthError is a Problem whose `error` and `error_description` are extension members
    # (PROBLEM_SCHEMA admits them), served as application/problem+json. Same media type and
    # schema, so the same declaration as elsewhere; the docstring names each status's `error`.
    responses=problem_responses(400, 401, 413, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {FORM_MEDIA_TYPE: {"schema": TokenForm.model_json_schema()}},
        }
    },
)
async def token(
    form: TokenFormDep,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    keyring: KeyRingCacheDep,
    now: NowDep,
    response: Response,
) -> TokenResponse:
    """RFC 6749 §4.4 with RFC 7523 client authentication; answers an RFC 9068 access token.

    Refusals are problem documents that also carry RFC 6749's `error` and
    `error_description`: 400 `invalid_request`, `invalid_grant`, `unsupported_grant_type` or
    `invalid_scope`; 401 `invalid_client` (the client assertion was refused); 413
    `invalid_request` (the body is too large; beyond the service-wide body limit, a plain
    `body_too_large` problem); 415 `invalid_request` (not a form body).
    """
    _, signing_key = await keyring.signing()
    issued = await service.issue_token(
        session=session,
        cache=cache,
        settings=settings,
        signing_key=signing_key,
        grant_type=form.grant_type,
        client_assertion_type=form.client_assertion_type,
        client_assertion=form.client_assertion,
        client_id=form.client_id,
        scope=form.scope,
        now=now,
    )
    # RFC 6749 §5.1: tokens must not be cached (Pragma for HTTP/1.0 caches).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        scope=" ".join(issued.scopes),
    )


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="Authorization server metadata (RFC 8414)",
    response_model=AuthorizationServerMetadata,
)
async def metadata(settings: SettingsDep, response: Response) -> AuthorizationServerMetadata:
    """Where the token endpoint and keys are, and what the token endpoint supports."""
    base = settings.public_url.rstrip("/")
    response.headers["Cache-Control"] = "public, max-age=300"
    return AuthorizationServerMetadata(
        issuer=settings.issuer,
        token_endpoint=f"{base}/v1/token",
        jwks_uri=f"{base}/.well-known/jwks.json",
        grant_types_supported=[service.GRANT_TYPE],
        token_endpoint_auth_methods_supported=[service.AUTH_METHOD],
        token_endpoint_auth_signing_alg_values_supported=sorted(DEFAULT_ALLOWED_ALGS),
        scopes_supported=sorted(service.SCOPES),
        response_types_supported=[],
    )
