"""API models of the token endpoint (RFC 6749 §4.4, §5.1) and of discovery (RFC 8414)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.jose import MAX_TOKEN_LENGTH


class TokenForm(BaseModel):
    """The parameters of a token request, as read from its form body.

    Unknown parameters never reach this model: RFC 6749 §3.2 says the token endpoint
    MUST ignore them (client libraries send extras), so the form reader drops them;
    `extra="forbid"` still guards against a field being added here by mistake.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    grant_type: str | None = Field(default=None, max_length=100)
    client_assertion_type: str | None = Field(default=None, max_length=200)
    client_assertion: str | None = Field(default=None, max_length=MAX_TOKEN_LENGTH)
    client_id: str | None = Field(default=None, max_length=100)
    scope: str | None = Field(default=None, max_length=1000)


class TokenResponse(BaseModel):
    """A successful token response (RFC 6749 §5.1) with an RFC 9068 access token."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105  (a token type, not a secret)
    expires_in: int = Field(description="seconds until the access token expires")
    scope: str = Field(description="the granted scopes, space-separated")


class AuthorizationServerMetadata(BaseModel):
    """RFC 8414 §2 metadata of this authorization server."""

    issuer: str
    token_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str]
    scopes_supported: list[str]
    # REQUIRED by RFC 8414 §2; this server has no authorization endpoint, so none.
    response_types_supported: list[str]
