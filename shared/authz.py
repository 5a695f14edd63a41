"""Who may do what: the one table of permissions, deny by default.

Every endpoint names exactly one permission; a permission not in this table is granted to nobody.
Scoping (a PPK sees only its own agency's civil servants, a BKN regional office only its region's agencies')
is applied on top, where the data is read, and always through ``scope_of`` below: every door (the API
routes, the hot paths, the dashboard's pages, the notify subscriptions and feeds) asks it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Protocol, TypeVar

from shared.regions import agencies_of_office

T = TypeVar("T")
B = TypeVar("B")

ROLES: dict[str, str] = {
    "reporter": "files reports (Bawaslu, task-force agencies)",
    "verifier": "verifies reports (task force)",
    "examiner": "examines verified reports and issues recommendations (the examining authority)",
    "ppk": "records follow-ups for the civil servants of its own agency",
    "bkn_regional": "a BKN regional office (Kantor Regional): reads the cases, deadlines and early warnings of "
                    "the agencies in the provinces it covers, to follow up their PPKs (its token names the office)",
    "blocker": "blocks and unblocks personnel data (BKN)",
    "observer": "reads statuses and figures (task-force agencies)",
    "admin": "manages reference data, replays, dead letters, agency clients and people's accounts",
    "personnel": "a personnel system (e.g. SIASN) asking whether a NIP is blocked before a promotion or transfer",
    "witness": "another agency's ledger witness: co-signs the status ledger's checkpoints",
    "public": "anyone, without a token: the public report form, the complaint-number check, the token endpoint, "
              "the sign-in endpoint and the key set (rate-limited)",
}

PERMISSIONS: dict[str, frozenset[str]] = {
    "report:create": frozenset({"reporter", "admin"}),
    "report:read": frozenset({"reporter", "verifier", "examiner", "admin"}),
    "status:read": frozenset({"reporter", "verifier", "examiner", "ppk", "blocker", "observer", "admin", "bkn_regional"}),
    "timeline:read": frozenset({"verifier", "examiner", "ppk", "blocker", "observer", "admin", "bkn_regional"}),
    "worklist:read": frozenset({"verifier", "examiner", "admin"}),
    "case:verify": frozenset({"verifier", "admin"}),
    "case:examine": frozenset({"examiner", "admin"}),
    "block:read": frozenset({"blocker", "observer", "admin", "personnel"}),
    "block:write": frozenset({"blocker"}),
    "escalation:read": frozenset({"blocker", "observer", "admin"}),
    # BKN's blocking worklist (overdue cases awaiting its decision); deciding is block:write.
    "block-decision:read": frozenset({"blocker", "observer", "admin"}),
    "stats:read": frozenset({"verifier", "examiner", "blocker", "observer", "admin", "bkn_regional"}),
    "ppk_worklist:read": frozenset({"ppk", "blocker", "observer", "admin", "bkn_regional"}),
    "followup:record": frozenset({"ppk"}),
    "followup:read": frozenset({"ppk", "examiner", "blocker", "observer", "admin", "bkn_regional"}),
    # Reminding a PPK of a sanction it still owes: BKN's follow-up of the PPKs, a regional office for its
    # region's agencies (scope_of), the blocking desk for any. It moves no deadline and records no decree.
    "followup:remind": frozenset({"bkn_regional", "blocker"}),
    "deadline:manage": frozenset({"examiner", "admin"}),
    # The ledger's checkpoints and proofs carry only hashes; the export carries every event.
    "ledger:read": frozenset({"reporter", "verifier", "examiner", "ppk", "blocker", "observer", "admin",
                              "personnel", "witness"}),
    "ledger:export": frozenset({"observer", "admin"}),
    "ledger:witness": frozenset({"witness"}),
    # The reporter's name and contact: only those who must contact the reporter to verify.
    "reporter-identity:read": frozenset({"verifier", "admin"}),
    "reporter-identity:erase": frozenset({"admin"}),
    # No token: every caller holds the "public" role on these, rate-limited per client IP.
    "public:report": frozenset({"public"}),
    "public:complaint": frozenset({"public"}),
    # The national figures with small cells withheld: no NIP, no name (services/status/public_figures.py).
    "public:figures": frozenset({"public"}),
    # The identity service. The token endpoint takes no bearer token: the client authenticates with its own
    # id and secret (failures rate-limited per client IP); the key set is what integrators verify against.
    "oauth:token": frozenset({"public"}),
    "jwks:read": frozenset({"public"}),
    "client:read": frozenset({"admin"}),
    "client:write": frozenset({"admin"}),
    # People sign in with a username and password (and a TOTP code for some roles): no token yet, so
    # public, the failures rate-limited per client IP and counted per account (lockout).
    "session:create": frozenset({"public"}),
    "user:read": frozenset({"admin"}),
    "user:write": frozenset({"admin"}),
    # Event subscribers (the notify service): an agency system's webhooks, and the NATS feed an operator
    # makes for it. A PPK's cover only its own agency's civil servants (scope_of), a regional office's its
    # region's agencies', every other role's every agency's; what a subscription or feed carries is decided by the same rule, per event.
    "subscription:read": frozenset({"ppk", "verifier", "examiner", "blocker", "observer", "admin", "bkn_regional"}),
    "subscription:write": frozenset({"ppk", "verifier", "examiner", "blocker", "observer", "admin", "bkn_regional"}),
    "feed:read": frozenset({"ppk", "verifier", "examiner", "blocker", "observer", "admin", "bkn_regional"}),
    "ops:read": frozenset({"admin"}),
    "ops:write": frozenset({"admin"}),
}


def allowed(permission: str, roles: Iterable[str]) -> bool:
    return bool(PERMISSIONS.get(permission, frozenset()) & set(roles))


# Roles that hold a permission only for some agencies' civil servants: a PPK its own agency's (the token's
# ``ppk_agency``), a BKN regional office those of the provinces it covers (the token's ``bkn_office``).
AGENCY_SCOPED_ROLES = frozenset({"ppk", "bkn_regional"})


def agency_scoped(permission: str, roles: Iterable[str]) -> bool:
    """True when every role that grants ``permission`` to this caller is agency-scoped (a PPK): the
    caller then reads or acts only on its own agency's civil servants."""
    granting = PERMISSIONS.get(permission, frozenset()) & set(roles)
    return bool(granting) and granting <= AGENCY_SCOPED_ROLES


class Caller(Protocol):
    """What the rule reads of a caller (``shared.auth.Actor``)."""

    roles: frozenset[str]
    ppk_agency: str | None
    bkn_office: str | None


@dataclass(frozen=True)
class AgencyScope:
    """Whose civil servants a caller sees, or acts on, under one permission: every agency's, or a set of
    agencies' (a PPK: the one agency its token acts for; a regional office: its region's), or nobody's
    (not every agency, and the set empty)."""

    every_agency: bool = False
    agencies: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *agencies: str) -> AgencyScope:
        return cls(agencies=frozenset(agencies))

    @property
    def nobody(self) -> bool:
        return not self.every_agency and not self.agencies

    @property
    def agency(self) -> str | None:
        """The one agency of a one-agency scope (a PPK's); None for every agency, a region or nobody."""
        return next(iter(self.agencies)) if not self.every_agency and len(self.agencies) == 1 else None

    def admits(self, agency_code: str | None) -> bool:
        """A case (or obligation, or civil servant's record) of ``agency_code``: may the caller see it?"""
        return self.every_agency or (agency_code is not None and agency_code in self.agencies)

    def cases(self, cases: Iterable[T], agency_of: Callable[[T], str | None]) -> list[T]:
        """The cases the caller sees, in their order."""
        return [case for case in cases if self.admits(agency_of(case))]

    def blocks(self, blocks: Iterable[B], seen_case_ids: set[str], case_of: Callable[[B], str | None]) -> list[B]:
        """A civil servant's blocks the caller sees: every one nationally; within one agency only those
        arising from a case it sees (not a block by hand outside any case, nor one from another agency's)."""
        if self.every_agency:
            return list(blocks)
        return [block for block in blocks if case_of(block) in seen_case_ids]

    def civil_servant(
        self,
        cases: Iterable[T],
        blocks: Iterable[B],
        *,
        agency_of: Callable[[T], str | None] = attrgetter("agency_code"),
        case_id_of: Callable[[T], str] = attrgetter("case_id"),
        block_case_of: Callable[[B], str | None] = attrgetter("case_id"),
    ) -> tuple[list[T], list[B]]:
        """What the caller sees of one civil servant: its cases, then its blocks (see ``cases``, ``blocks``)."""
        seen = self.cases(cases, agency_of)
        return seen, self.blocks(blocks, {case_id_of(case) for case in seen}, block_case_of)


EVERY_AGENCY = AgencyScope(every_agency=True)
NO_AGENCY = AgencyScope()


def scope_of(caller: Caller, permission: str) -> AgencyScope:
    """The one rule for whose cases a caller may see or act on under ``permission``.

    Without the permission: nobody's. When every role granting it is agency-scoped: a PPK's the agency its
    token acts for (``ppk_agency``), a regional office's the agencies of the provinces its office covers
    (``bkn_office``, deploy/seed/bkn_regional_offices.csv), together when a token holds both; nobody's
    for a role whose claim is missing or names no known office. Otherwise: every agency's.
    """
    if not allowed(permission, caller.roles):
        return NO_AGENCY
    if agency_scoped(permission, caller.roles):
        granting = PERMISSIONS[permission] & caller.roles
        agencies: set[str] = set()
        if "ppk" in granting and caller.ppk_agency:
            agencies.add(caller.ppk_agency)
        if "bkn_regional" in granting and caller.bkn_office:
            agencies |= agencies_of_office(caller.bkn_office)
        return AgencyScope(agencies=frozenset(agencies)) if agencies else NO_AGENCY
    return EVERY_AGENCY


def may_see_case(caller: Caller, permission: str, agency_code: str | None) -> bool:
    """May the caller see (or act on, for a write permission) a case of ``agency_code``?"""
    return scope_of(caller, permission).admits(agency_code)
