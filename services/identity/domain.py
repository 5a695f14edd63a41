"""The identity rules, pure: which roles a client may hold, and which a token request may narrow to."""

from __future__ import annotations

from collections.abc import Iterable

from services.identity import passwords
from services.identity.passwords import TOTP_ROLES  # noqa: F401 - part of the rules read here
from shared.authz import ROLES
from shared.regions import offices

# Every role but "public", which is what a caller without a token holds, never a registered client.
ASSIGNABLE_ROLES: tuple[str, ...] = tuple(role for role in ROLES if role != "public")


# The roles people hold (the others are machines': a personnel system, another agency's ledger witness).
PERSON_ROLES: tuple[str, ...] = ("reporter", "verifier", "examiner", "ppk", "bkn_regional", "blocker", "observer",
                                  "admin")


class RuleBroken(ValueError):
    """A rule about one field; ``field`` is the field to name in the answer."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_roles(roles: Iterable[str]) -> list[str]:
    """The roles, sorted and without repeats; an unknown role or none at all is refused."""
    chosen = sorted(set(roles))
    if not chosen:
        raise RuleBroken("roles", "at least one role is required")
    unknown = [role for role in chosen if role not in ASSIGNABLE_ROLES]
    if unknown:
        raise RuleBroken("roles", f"unknown role {unknown[0]!r}; one of {', '.join(ASSIGNABLE_ROLES)}")
    return chosen


def check_person_roles(roles: Iterable[str]) -> list[str]:
    chosen = check_roles(roles)
    machine = [role for role in chosen if role not in PERSON_ROLES]
    if machine:
        raise RuleBroken("roles", f"{machine[0]!r} is a machine's role; a person holds {', '.join(PERSON_ROLES)}")
    return chosen


def check_password(password: str) -> str:
    try:
        return passwords.check_password(password)
    except passwords.PasswordRefused as refused:
        raise ValueError(str(refused)) from None


def check_ppk_agency(roles: Iterable[str], ppk_agency: str | None) -> None:
    """A PPK client acts for exactly one agency's civil servants, so it must say which; no other client
    may carry one (it would scope nothing and mislead whoever reads the token)."""
    is_ppk = "ppk" in set(roles)
    if is_ppk and not ppk_agency:
        raise RuleBroken("ppk_agency", "required with the ppk role: the agency acted for")
    if not is_ppk and ppk_agency:
        raise RuleBroken("ppk_agency", "only with the ppk role: nobody else acts for an agency")


def check_bkn_office(roles: Iterable[str], bkn_office: str | None) -> None:
    """A regional office reads only its region's agencies, so a bkn_regional account must name a known
    office (deploy/seed/bkn_regional_offices.csv); no other account carries one."""
    is_regional = "bkn_regional" in set(roles)
    if is_regional and not bkn_office:
        raise RuleBroken("bkn_office", "required with the bkn_regional role: the regional office read for")
    if not is_regional and bkn_office:
        raise RuleBroken("bkn_office", "only with the bkn_regional role")
    if bkn_office and bkn_office not in offices():
        raise RuleBroken("bkn_office", f"unknown regional office {bkn_office!r}; one of {', '.join(offices())}")


class ScopeRefused(ValueError):
    pass


def granted_roles(scope: str | None, held: Iterable[str]) -> list[str]:
    """The roles a token carries: every role the client holds, or the space-separated subset ``scope``
    asks for (RFC 6749 §3.3). A role the client does not hold is refused, never silently dropped."""
    held_roles = sorted(set(held))
    asked = (scope or "").split()
    if not asked:
        return held_roles
    for role in asked:
        if role not in held_roles:
            raise ScopeRefused(f"the client does not hold the role {role[:40]!r}; it holds {' '.join(held_roles)}")
    return sorted(set(asked))
