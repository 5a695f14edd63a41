"""Who may do what: the one table of permissions, deny by default.

Every endpoint names exactly one permission; a permission not in this table is granted to nobody.
Scoping (a PPK sees only its own agency's civil servants) is applied on top, where the data is read.
"""

from __future__ import annotations

ROLES: dict[str, str] = {
    "reporter": "files reports (Bawaslu, task-force agencies)",
    "verifier": "verifies reports (task force)",
    "examiner": "examines verified reports and issues recommendations (the examining authority)",
    "ppk": "records follow-ups for the civil servants of its own agency",
    "blocker": "blocks and unblocks personnel data (BKN)",
    "observer": "reads statuses and figures (task-force agencies)",
    "admin": "manages reference data, replays, dead letters and agency clients",
    "personnel": "a personnel system (e.g. SIASN) asking whether a NIP is blocked before a promotion or transfer",
    "witness": "another agency's ledger witness: co-signs the status ledger's checkpoints",
    "public": "anyone, without a token: the public report form, the complaint-number check, the token endpoint "
              "and the key set (rate-limited)",
}

PERMISSIONS: dict[str, frozenset[str]] = {
    "report:create": frozenset({"reporter", "admin"}),
    "report:read": frozenset({"reporter", "verifier", "examiner", "admin"}),
    "status:read": frozenset({"reporter", "verifier", "examiner", "ppk", "blocker", "observer", "admin"}),
    "timeline:read": frozenset({"verifier", "examiner", "ppk", "blocker", "observer", "admin"}),
    "worklist:read": frozenset({"verifier", "examiner", "admin"}),
    "case:verify": frozenset({"verifier", "admin"}),
    "case:examine": frozenset({"examiner", "admin"}),
    "block:read": frozenset({"blocker", "observer", "admin", "personnel"}),
    "block:write": frozenset({"blocker"}),
    "escalation:read": frozenset({"blocker", "observer", "admin"}),
    "stats:read": frozenset({"verifier", "examiner", "blocker", "observer", "admin"}),
    "ppk_worklist:read": frozenset({"ppk", "blocker", "observer", "admin"}),
    "followup:record": frozenset({"ppk"}),
    "followup:read": frozenset({"ppk", "examiner", "blocker", "observer", "admin"}),
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
    # The identity service. The token endpoint takes no bearer token: the client authenticates with its own
    # id and secret (failures rate-limited per client IP); the key set is what integrators verify against.
    "oauth:token": frozenset({"public"}),
    "jwks:read": frozenset({"public"}),
    "client:read": frozenset({"admin"}),
    "client:write": frozenset({"admin"}),
    "ops:read": frozenset({"admin"}),
    "ops:write": frozenset({"admin"}),
}


def allowed(permission: str, roles: set[str] | frozenset[str] | list[str]) -> bool:
    return bool(PERMISSIONS.get(permission, frozenset()) & set(roles))


# Roles that hold a permission only for their own agency's civil servants.
AGENCY_SCOPED_ROLES = frozenset({"ppk"})


def agency_scoped(permission: str, roles: set[str] | frozenset[str] | list[str]) -> bool:
    """True when every role that grants ``permission`` to this caller is agency-scoped (a PPK): the
    caller then reads or acts only on its own agency's civil servants."""
    granting = PERMISSIONS.get(permission, frozenset()) & set(roles)
    return bool(granting) and granting <= AGENCY_SCOPED_ROLES
