"""Small logs for ledger tests: chained, signed envelopes of two producers about a few cases."""

from __future__ import annotations

from shared.events import GENESIS_HASH, Envelope
from shared.events.intake import CaseOpened, ReportReceived
from shared.events.recommendation import VerificationDecided
from tests.harness.signing import fixed_key


def chain(producer: str, payloads: list[tuple[str, str, dict]], start_seq: int = 1,
          prev: str = GENESIS_HASH) -> list[Envelope]:
    out = []
    for offset, (event_type, subject, data) in enumerate(payloads):
        seq = start_seq + offset
        envelope = Envelope(id=f"01{producer.upper()[:4]}{seq:020d}", source=f"/sbt/{producer}", type=event_type,
                            time=f"2024-10-15T03:{seq // 60:02d}:{seq % 60:02d}.000000Z", subject=subject,
                            data=data).chained(seq, prev, fixed_key(producer))
        prev = envelope.hash
        out.append(envelope)
    return out


def case_log(cases: int = 3) -> list[Envelope]:
    """Intake opens ``cases`` cases with one report each; recommendation accepts the first one."""
    intake = []
    for number in range(cases):
        case_id = f"01CASE{number:020d}"
        opened = {**CaseOpened.examples[0], "case_id": case_id}
        report = {**ReportReceived.examples[0], "case_id": case_id, "report_id": f"01REPT{number:020d}"}
        intake += [(CaseOpened.event_type, case_id, opened), (ReportReceived.event_type, case_id, report)]
    intake_events = chain("intake", intake)
    first_case = intake_events[0].subject
    decided = {**VerificationDecided.examples[0], "case_id": first_case, "outcome": "accepted"}
    recommendation_events = chain("recommendation", [(VerificationDecided.event_type, first_case, decided)])
    return [*intake_events, *recommendation_events]
