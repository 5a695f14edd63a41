"""The identity service's request and response bodies."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from services.identity import domain

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                        pattern=r"^[^\x00-\x1f\x7f]+$")]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_\-]{0,39}$")]


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="Who the client is, for people: e.g. 'Bawaslu case system'.",
                       examples=["Bawaslu case system"])
    agency_code: Code = Field(description="The agency the client belongs to; carried in its tokens.",
                              examples=["BAWASLU"])
    roles: list[Annotated[str, StringConstraints(max_length=40)]] = Field(
        min_length=1, max_length=len(domain.ASSIGNABLE_ROLES),
        description=f"Roles the client may hold: {', '.join(domain.ASSIGNABLE_ROLES)}.", examples=[["reporter"]])
    ppk_agency: Code | None = Field(default=None, validate_default=True,
                                    description="For a client with the ppk role (and only then): the agency "
                                                "whose civil servants it acts on.")

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        try:
            return domain.check_roles(roles)
        except domain.RuleBroken as broken:
            raise ValueError(broken.reason) from None

    @field_validator("ppk_agency")
    @classmethod
    def _ppk_agency_iff_ppk(cls, ppk_agency: str | None, info: ValidationInfo) -> str | None:
        roles = info.data.get("roles")
        if roles is not None:  # roles invalid: that error is reported on its own
            try:
                domain.check_ppk_agency(roles, ppk_agency)
            except domain.RuleBroken as broken:
                raise ValueError(broken.reason) from None
        return ppk_agency


class ClientOut(BaseModel):
    client_id: str
    name: str
    agency_code: str
    roles: list[str]
    ppk_agency: str | None
    created_at: dt.datetime
    created_by: str
    secret_rotated_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoked_by: str | None


class ClientCreated(ClientOut):
    client_secret: str = Field(description="Shown this once and never again: only a hash of it is kept.")


class ClientSecret(BaseModel):
    client_id: str
    client_secret: str = Field(description="The new secret, shown this once; the previous one no longer works.")
    secret_rotated_at: dt.datetime


class ClientList(BaseModel):
    clients: list[ClientOut] = Field(description="Oldest first.")


class TokenOut(BaseModel):
    """RFC 6749 §5.1."""

    access_token: str = Field(description="An Ed25519-signed JWT; send it as `Authorization: Bearer ...`.")
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds until the token expires.")
    scope: str = Field(description="The roles the token carries, space-separated.")


class OAuthError(BaseModel):
    """RFC 6749 §5.2."""

    error: Literal["invalid_request", "invalid_client", "unsupported_grant_type", "invalid_scope"]
    error_description: str


class Jwk(BaseModel):
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str = Field(description="The public key, base64url (RFC 8037).")
    kid: str
    use: Literal["sig"]
    alg: Literal["EdDSA"]


class JwkSet(BaseModel):
    keys: list[Jwk] = Field(description="Every key whose tokens the services accept (RFC 7517).")
