"""A service's refusal as one line a person reads in the page's language.

The deciding services answer a refused decision with a problem body (RFC 9457: ``status``, ``title``, and for
bad input ``errors`` of ``{field, reason}``). The line names the form's field by its label and says the
reason in words; a reason this table does not know is shown as the service wrote it, after the field's
label, so nothing the service said is lost. The words are gettext msgids (``N_``), translated here."""

from __future__ import annotations

import re
from collections.abc import Callable

from shared.i18n import N_

FIELD_WORDS = {
    "outcome": N_("Decision"),
    "reason": N_("Reason"),
    "category": N_("Category"),
    "sanction_level": N_("Sanction level"),
    "legal_basis": N_("Legal basis"),
    "decree_number": N_("Decree (SK) number"),
    "decree_date": N_("Decree date"),
    "effective_from": N_("Effective from"),
    "effective_until": N_("Effective until"),
    "block_id": N_("Block"),
    "clarified_on": N_("Date"),
    "summary": N_("Summary"),
    "case_id": N_("Case"),
    "agency_code": N_("Agency"),
    "nip": "NIP",
    "body": N_("The form"),
    "csrf_token": N_("The form"),
}

# (pattern over the service's reason, msgid); the first that matches says it. Groups go into the msgid.
REASONS: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(pattern), words) for pattern, words in (
    (r"^required: .* lighter than", N_("is required when the sanction is lighter than the one recommended")),
    (r"^required: none of the case's violation codes",
     N_("must be chosen: none of the case's violations is in the catalogue")),
    (r"^required: the catalogue has no", N_("must be given: the catalogue has no default for this case")),
    (r" is not a (ethics|discipline) sanction", N_("is not a sanction of the category chosen")),
    (r"^required$|^Field required|^String should have at least 1 character", N_("is required")),
    (r"^must not be in the future", N_("must not be in the future")),
    (r"^must not be before the recommendation was issued \((?P<day>[0-9-]+)\)",
     N_("must not be before the recommendation was issued (%(day)s)")),
    (r"^must not be before effective_from", N_("must not be before the effective date")),
    (r"^only a proven case", N_("is given only when the violation is proven")),
    (r"^required when the clarification was given", N_("is required when the clarification was given")),
    (r"^only when the clarification was given", N_("is left empty when the civil servant declined")),
    (r" is in the future \(today is", N_("must not be in the future")),
    (r"^Input should be a valid date", N_("is not a valid date")),
    (r"^Input should be (greater|less) than", N_("is outside the dates the system accepts")),
    (r"^Input should be '", N_("is not one of the choices")),
    (r"^String should have at most", N_("is too long")),
    (r"^unknown field", N_("is not a field of this form")),
))

STATUS_WORDS = {
    ("403", "not in role"): N_("Your agency does not hold this role today, so it cannot take this decision."),
    ("403", ""): N_("You may not take this decision on this case."),
    ("404", ""): N_("The service that decides this does not know the case yet: try again in a moment."),
    ("409", "already blocked"): N_("This civil servant's personnel data is already blocked for this case."),
    ("409", "clarification required"): N_("Record the reported civil servant's clarification (or that they "
                                          "declined) before a proven finding."),
    ("409", "not blocked"): N_("There is no active block to lift."),
    ("409", "already lifted"): N_("This block has already been lifted."),
    ("409", ""): N_("This case is no longer at this step: it may have been decided already. Reload the page."),
    ("413", ""): N_("The form is too large."),
    ("429", ""): N_("Too many requests: wait a minute, then send the form again."),
    ("422", ""): N_("The form was not accepted: check its fields."),
}
UNREACHABLE = N_("The service that decides this cannot be reached right now: try again in a few minutes.")


def _reason(reason: str, gettext: Callable[[str], str]) -> str:
    for pattern, words in REASONS:
        found = pattern.search(reason)
        if found:
            return gettext(words) % found.groupdict() if found.groupdict() else gettext(words)
    return reason


def one_line(status: int | None, problem: dict | None, gettext: Callable[[str], str]) -> str:
    """What the person reads when the service refused (``status`` None: it could not be reached)."""
    problem = problem or {}
    errors = problem.get("errors") or []
    if status == 422 and errors and isinstance(errors[0], dict):
        field = str(errors[0].get("field", "body"))
        label = FIELD_WORDS.get(field.split(".")[0])
        return f"{gettext(label) if label else field}: {_reason(str(errors[0].get('reason', '')), gettext)}"
    if status is None or status >= 500:
        return gettext(UNREACHABLE)
    title = str(problem.get("title", ""))
    words = STATUS_WORDS.get((str(status), title)) or STATUS_WORDS.get((str(status), ""))
    if words:
        return gettext(words)
    return gettext(UNREACHABLE) if status >= 500 else f"{status} {title}".strip()
