"""Reading a token request (RFC 6749 §4.4): the form, the grant type, and the client's credentials from
HTTP Basic (§2.3.1, preferred) or the ``client_id``/``client_secret`` form fields. Pure: no I/O."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote_plus

FORM = "application/x-www-form-urlencoded"
GRANT_TYPE = "client_credentials"
_MAX_FIELDS = 20


class TokenRequestError(Exception):
    """An answer in RFC 6749 §5.2 shape: ``error`` is the code, ``description`` names the field."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


def invalid_request(description: str) -> TokenRequestError:
    return TokenRequestError(400, "invalid_request", description)


def invalid_client() -> TokenRequestError:
    # One answer for an unknown client, a wrong secret, a revoked client or missing credentials, so that
    # nobody learns which client ids exist.
    return TokenRequestError(401, "invalid_client", "client authentication failed")


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    secret: str


def parse_form(content_type: str | None, body: bytes) -> dict[str, str]:
    """The form's fields; no body at all reads as an empty form, so the answer names what is missing."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if body and media_type != FORM:
        raise invalid_request(f"the body must be {FORM}")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=_MAX_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise invalid_request("the body is not a well-formed UTF-8 form") from None
    repeated = sorted(name for name, values in fields.items() if len(values) > 1)
    if repeated:  # §3.2: request parameters must not be included more than once
        raise invalid_request(f"{repeated[0][:40]}: given more than once")
    return {name: values[0] for name, values in fields.items()}


def check_grant_type(form: dict[str, str]) -> None:
    grant_type = form.get("grant_type")
    if not grant_type:
        raise invalid_request("grant_type: required")
    if grant_type != GRANT_TYPE:
        raise TokenRequestError(400, "unsupported_grant_type", f"grant_type: only {GRANT_TYPE} is supported")


def client_credentials(authorization: str | None, form: dict[str, str]) -> ClientCredentials:
    """The credentials the client sent, by exactly one method; a malformed Basic header or none at all is
    ``invalid_client`` (401), half of the form pair is ``invalid_request`` naming the missing field."""
    basic = _basic(authorization)
    in_form = "client_id" in form or "client_secret" in form
    if basic is not None:
        if "client_secret" in form:
            raise invalid_request("client_secret: send the credentials one way only (HTTP Basic or the form)")
        if "client_id" in form and form["client_id"] != basic.client_id:
            raise invalid_request("client_id: differs from the one in the Authorization header")
        return basic
    if not in_form:
        raise invalid_client()
    for field in ("client_id", "client_secret"):
        if not form.get(field):
            raise invalid_request(f"{field}: required")
    return ClientCredentials(form["client_id"], form["client_secret"])


def _basic(authorization: str | None) -> ClientCredentials | None:
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_client() from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret:
        raise invalid_client()
    # §2.3.1: both parts are form-urlencoded before they are joined and encoded.
    return ClientCredentials(unquote_plus(client_id), unquote_plus(secret))
