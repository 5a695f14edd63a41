"""From the claims of a validated ID token to an SBT person: roles, agency and the agency a PPK acts for,
by configuration (SBT_OIDC_ROLE_CLAIM, SBT_OIDC_ROLE_MAP, SBT_OIDC_AGENCY_CLAIM...). Pure: no I/O.

Deny by default: a claim value that the map does not name grants nothing, and a person granted nothing is
refused. The roles that need a second factor for local accounts (admin, blocker) need one here too, as
the provider reports it in ``amr`` (RFC 8176): signing in elsewhere must not be a way around the TOTP rule.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.identity.domain import PERSON_ROLES, TOTP_ROLES
from shared.regions import offices
from shared.settings import OidcSettings

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_\-]{0,39}$")
SUBJECT_PREFIX = "oidc:"
_MAX_SUBJECT = 64 - len(SUBJECT_PREFIX)  # the audit keeps 64 characters


class Refused(Exception):
    """The provider vouched for the person, but SBT does not let them in; ``title`` names why."""

    def __init__(self, title: str, detail: str, subject: str | None = None) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail
        self.subject = subject  # who, when the ID token was valid: for the audit


@dataclass(frozen=True)
class ClaimRules:
    role_claim: str
    role_map: Mapping[str, tuple[str, ...]]
    agency_claim: str | None
    agency: str | None
    ppk_agency_claim: str | None
    bkn_office_claim: str | None
    name_claim: str
    username_claim: str
    second_factor_amr: frozenset[str]

    @classmethod
    def from_settings(cls, settings: OidcSettings) -> ClaimRules:
        """The rules, or ValueError naming the setting that is wrong (the service then refuses to start)."""
        role_map: dict[str, tuple[str, ...]] = {}
        for value, roles in settings.oidc_role_map.items():
            chosen = (roles,) if isinstance(roles, str) else tuple(roles)
            unknown = [role for role in chosen if role not in PERSON_ROLES]
            if unknown or not chosen:
                raise ValueError(f"SBT_OIDC_ROLE_MAP: {value!r} maps to {unknown[0] if unknown else 'no role'!r}; "
                                 f"a person holds {', '.join(PERSON_ROLES)}")
            role_map[value] = chosen
        if settings.oidc_agency and not _CODE.match(settings.oidc_agency):
            raise ValueError(f"SBT_OIDC_AGENCY: {settings.oidc_agency!r} is not an agency code (e.g. PEMPROV-JABAR)")
        return cls(role_claim=settings.oidc_role_claim, role_map=role_map, agency_claim=settings.oidc_agency_claim,
                   agency=settings.oidc_agency, ppk_agency_claim=settings.oidc_ppk_agency_claim,
                   bkn_office_claim=settings.oidc_bkn_office_claim,
                   name_claim=settings.oidc_name_claim, username_claim=settings.oidc_username_claim,
                   second_factor_amr=frozenset(settings.oidc_second_factor_amr))


@dataclass(frozen=True)
class Person:
    subject: str  # the SBT token's subject: oidc:<the provider's sub>
    username: str
    display_name: str
    agency: str
    roles: list[str]
    ppk_agency: str | None
    bkn_office: str | None = None


def claim(claims: Mapping[str, Any], path: str | None) -> Any:
    """The claim named ``path``, or at that dotted path into nested claims (``realm_access.roles``); a
    name with dots of its own (a namespaced claim, ``https://agency.go.id/roles``) is tried first."""
    if not path:
        return None
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def values(raw: Any) -> list[str]:
    """A claim as a list of strings: a string is one value, a list keeps its strings, anything else none."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [item for item in raw if isinstance(item, str)]
    return []


def _code(raw: Any, what: str) -> str | None:
    found = values(raw)
    if not found:
        return None
    code = found[0].strip().upper()
    if not _CODE.match(code):
        raise Refused("no agency", f"the provider's {what} {found[0][:60]!r} is not an agency code")
    return code


def subject_of(sub: str) -> str:
    """SBT's subject for the provider's ``sub``; one too long for the audit columns is hashed (stable)."""
    if len(sub) <= _MAX_SUBJECT:
        return SUBJECT_PREFIX + sub
    return SUBJECT_PREFIX + hashlib.sha256(sub.encode()).hexdigest()[:_MAX_SUBJECT]


def person(claims: Mapping[str, Any], rules: ClaimRules) -> Person:
    """The person the claims describe, or Refused with the one reason to show them."""
    subject = subject_of(str(claims["sub"]))
    try:
        return _person(claims, rules, subject)
    except Refused as refused:
        refused.subject = subject
        raise


def _person(claims: Mapping[str, Any], rules: ClaimRules, subject: str) -> Person:
    granted = sorted({role for value in values(claim(claims, rules.role_claim))
                      for role in rules.role_map.get(value, ())})
    if not granted:
        raise Refused("no role", f"no value of the claim {rules.role_claim!r} is mapped to an SBT role "
                                 "(SBT_OIDC_ROLE_MAP)")
    agency = _code(claim(claims, rules.agency_claim), "agency") or rules.agency
    if not agency:
        raise Refused("no agency", f"the claim {rules.agency_claim!r} names no agency and SBT_OIDC_AGENCY is unset")
    strong = sorted(TOTP_ROLES & set(granted))
    if strong and not set(values(claims.get("amr"))) & rules.second_factor_amr:
        raise Refused("second factor required", f"the role {strong[0]} needs a second factor at the provider "
                                                "(amr names none)")
    ppk_agency = None
    if "ppk" in granted:
        ppk_agency = _code(claim(claims, rules.ppk_agency_claim), "PPK agency") or agency
    bkn_office = _bkn_office(claims, rules) if "bkn_regional" in granted else None
    username = (values(claim(claims, rules.username_claim)) or [str(claims["sub"])])[0][:64]
    name = (values(claim(claims, rules.name_claim)) or [username])[0].strip()[:200] or username
    return Person(subject=subject, username=username, display_name=name, agency=agency, roles=granted,
                  ppk_agency=ppk_agency, bkn_office=bkn_office)


def _bkn_office(claims: Mapping[str, Any], rules: ClaimRules) -> str:
    """The regional office a bkn_regional person reads for. Without a known one the person is refused, not
    let in with a session that sees nothing (or, worse, everything)."""
    if not rules.bkn_office_claim:
        raise Refused("no regional office", "the role bkn_regional needs a BKN regional office and "
                                            "SBT_OIDC_BKN_OFFICE_CLAIM is unset")
    found = values(claim(claims, rules.bkn_office_claim))
    if not found or not found[0].strip():
        raise Refused("no regional office", f"the claim {rules.bkn_office_claim!r} names no BKN regional office")
    code = found[0].strip().upper()
    if code not in offices():
        raise Refused("no regional office", f"the claim {rules.bkn_office_claim!r} names {found[0][:20]!r}, not a "
                                            f"BKN regional office (one of {', '.join(offices())})")
    return code
