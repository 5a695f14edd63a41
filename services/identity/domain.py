"""The identity rules, pure: which roles a client may hold, and which a token request may narrow to."""

from __future__ import annotations

from collections.abc import Iterable

from shared.authz import ROLES

# Every role but "public", which is what a caller without a token holds, never a registered client.
ASSIGNABLE_ROLES: tuple[str, ...] = tuple(role for role in ROLES if role != "public")


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


def check_ppk_agency(roles: Iterable[str], ppk_agency: str | None) -> None:
    """A PPK client acts for exactly one agency's civil servants, so it must say which; no other client
    may carry one (it would scope nothing and mislead whoever reads the token)."""
    is_ppk = "ppk" in set(roles)
    if is_ppk and not ppk_agency:
        raise RuleBroken("ppk_agency", "required for a client with the ppk role: the agency it acts for")
    if not is_ppk and ppk_agency:
        raise RuleBroken("ppk_agency", "only a client with the ppk role acts for an agency")


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
