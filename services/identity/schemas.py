"""The identity service's request and response bodies."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from services.identity import domain
from shared.strict_types import StrictBool

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                        pattern=r"^[^\x00-\x1f\x7f]+$")]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_\-]{0,39}$")]


class _ScopedRoles(BaseModel):
    """The scope a role needs, checked against the roles given (a client's and a person's alike): a PPK's
    agency with the ppk role and only then, a BKN regional office with the bkn_regional role and only then.
    The subclasses declare ``roles`` before ``ppk_agency`` and ``bkn_office``, so the roles are known here."""

    @field_validator("ppk_agency", check_fields=False)
    @classmethod
    def _ppk_agency_iff_ppk(cls, ppk_agency: str | None, info: ValidationInfo) -> str | None:
        roles = info.data.get("roles")
        if roles is not None:  # roles invalid: that error is reported on its own
            try:
                domain.check_ppk_agency(roles, ppk_agency)
            except domain.RuleBroken as broken:
                raise ValueError(broken.reason) from None
        return ppk_agency

    @field_validator("bkn_office", check_fields=False)
    @classmethod
    def _bkn_office_iff_regional(cls, bkn_office: str | None, info: ValidationInfo) -> str | None:
        roles = info.data.get("roles")
        if roles is not None:
            try:
                domain.check_bkn_office(roles, bkn_office)
            except domain.RuleBroken as broken:
                raise ValueError(broken.reason) from None
        return bkn_office


class ClientIn(_ScopedRoles):
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
    bkn_office: Annotated[str, StringConstraints(max_length=8)] | None = Field(
        default=None, validate_default=True, examples=["III"],
        description="For a client with the bkn_regional role (and only then): the BKN regional office "
                    "(Kantor Regional I to XIV) whose region's agencies it reads.")

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        try:
            return domain.check_roles(roles)
        except domain.RuleBroken as broken:
            raise ValueError(broken.reason) from None


class ClientOut(BaseModel):
    client_id: str
    name: str
    agency_code: str
    roles: list[str]
    ppk_agency: str | None
    bkn_office: str | None = None
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


# -- people's accounts and sessions ----------------------------------------------------------------------

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,63}$")


def _username(value: str) -> str:
    username = value.strip().lower()
    if not _USERNAME.match(username):
        raise ValueError("3 to 64 of a-z 0-9 . _ @ -, starting with a letter or digit")
    return username


Username = Annotated[str, AfterValidator(_username)]


class UserIn(_ScopedRoles):
    model_config = ConfigDict(extra="forbid")

    username: Username = Field(description="3 to 64 of a-z 0-9 . _ @ -; unique whatever its case (kept lower-case).",
                               examples=["siti.rahma"])
    display_name: Name | None = Field(default=None, description="The person's name as shown; the username when "
                                                                "omitted.", examples=["Siti Rahma"])
    agency_code: Code = Field(description="The person's agency; carried in their session.", examples=["BKN"])
    roles: list[Annotated[str, StringConstraints(max_length=40)]] = Field(
        min_length=1, max_length=len(domain.PERSON_ROLES),
        description=f"Roles a person may hold: {', '.join(domain.PERSON_ROLES)}.", examples=[["observer"]])
    ppk_agency: Code | None = Field(default=None, validate_default=True,
                                    description="For a person with the ppk role (and only then): the agency "
                                                "whose civil servants they act on.")
    bkn_office: Annotated[str, StringConstraints(max_length=8)] | None = Field(
        default=None, validate_default=True, examples=["III"],
        description="For a person with the bkn_regional role (and only then): the BKN regional office "
                    "(Kantor Regional I to XIV) whose region's agencies they read.")
    password: str | None = Field(default=None, description="Omitted, one is made and answered once.")

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        try:
            return domain.check_person_roles(roles)
        except domain.RuleBroken as broken:
            raise ValueError(broken.reason) from None

    @field_validator("password")
    @classmethod
    def _strong_enough(cls, password: str | None) -> str | None:
        return None if password is None else domain.check_password(password)


class UserOut(BaseModel):
    username: str
    display_name: str
    agency_code: str
    roles: list[str]
    ppk_agency: str | None
    bkn_office: str | None = None
    totp_enrolled: bool = Field(description="Whether the account has a second factor (required for "
                                            f"{', '.join(sorted(domain.TOTP_ROLES))}).")
    locked_until: dt.datetime | None
    last_login_at: dt.datetime | None
    created_at: dt.datetime
    created_by: str
    password_reset_at: dt.datetime | None
    disabled_at: dt.datetime | None
    disabled_by: str | None


class UserSecrets(BaseModel):
    """What is shown once, when an account is made or reset, and never again."""

    username: str
    password: str | None = Field(default=None, description="The password made for the person, when none was "
                                                           "given; shown this once.")
    totp_uri: str | None = Field(default=None, description="otpauth:// URI to enrol an authenticator app (show it "
                                                           "as a QR code); shown this once.")


class UserCreated(UserOut):
    password: str | None = Field(default=None, description="The password made, when none was given; shown once.")
    totp_uri: str | None = Field(default=None, description="The TOTP enrolment URI, when required; shown once.")


class UserList(BaseModel):
    users: list[UserOut] = Field(description="By username.")


class PasswordResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(default=None, description="Omitted, one is made and answered once.")
    reset_totp: StrictBool = Field(default=False, description="Also a new TOTP secret (a lost phone).")

    @field_validator("password")
    @classmethod
    def _strong_enough(cls, password: str | None) -> str | None:
        return None if password is None else domain.check_password(password)


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, StringConstraints(max_length=200)]
    password: Annotated[str, StringConstraints(max_length=1000)]
    totp: Annotated[str | None, StringConstraints(max_length=20)] = Field(
        default=None, description="The authenticator app's 6-digit code, for accounts that have one.")


class SessionOut(BaseModel):
    access_token: str = Field(description="An Ed25519-signed JWT, as a client's token, saying it is a person's "
                                          "session (claim `sbt_kind`: `person`).")
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds until the session ends.")
    username: str
    display_name: str
    roles: list[str]


class OidcStartOut(BaseModel):
    authorization_url: str = Field(description="Where to send the person's browser: the provider's authorization "
                                               "endpoint, with state, nonce and the PKCE (S256) challenge.")
    transaction: str = Field(description="Sealed state of this sign-in (state, nonce, PKCE verifier): keep it in "
                                         "the browser (an HttpOnly cookie) and send it back with the code.")
    expires_in: int = Field(description="Seconds the person has to come back from the provider.")


class OidcSessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="The authorization code the provider sent back to the redirect URI.")
    state: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="The state the provider sent back; must equal the transaction's.")
    transaction: Annotated[str, StringConstraints(min_length=1, max_length=4000)] = Field(
        description="The transaction POST /v1/sessions/oidc/start answered.")
    iss: Annotated[str | None, StringConstraints(max_length=500)] = Field(
        default=None, description="The provider's iss parameter in the answer (RFC 9207), when it sends one.")
