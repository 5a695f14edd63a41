from shared.events import Envelope
from shared.events.intake import CaseOpened, ReportReceived
from shared.status_model import Stage, apply


def _event(model, seq: int, time: str, event_id: str | None = None, **overrides) -> Envelope:
    data = {**model.examples[0], **overrides}
    return Envelope(id=event_id or f"ev{seq}", source=f"/sbt/{model.producer}", type=model.event_type, time=time,
                    subject=data["case_id"], data=data)


def test_a_new_report_makes_the_case_await_verification():
    opened = apply(None, _event(CaseOpened, 1, "2024-10-15T03:00:00Z"))
    assert opened.stage == Stage.ALLEGED
    status = apply(opened, _event(ReportReceived, 2, "2024-10-15T03:00:01Z"))
    assert status.stage == Stage.AWAITING_VERIFICATION
    assert status.report_ids == ("01JD0000000000000000000001",)
    assert [change.stage for change in status.history] == [Stage.ALLEGED, Stage.AWAITING_VERIFICATION]
    assert status.is_open


def test_a_second_report_adds_to_the_case_without_moving_it_back():
    status = apply(None, _event(CaseOpened, 1, "t1"))
    status = apply(status, _event(ReportReceived, 2, "t2"))
    status = apply(status, _event(ReportReceived, 3, "t3", report_id="R2", violation_codes=["DISIPLIN-KAMPANYE"]))
    assert status.report_ids == ("01JD0000000000000000000001", "R2")
    assert status.violation_codes == ("DISIPLIN-KAMPANYE", "ETIK-MEDSOS")
    assert len(status.history) == 2
    assert status.events_applied == 3


def test_applying_the_same_event_twice_changes_nothing():
    status = apply(None, _event(CaseOpened, 1, "t1"))
    event = _event(ReportReceived, 2, "t2")
    once = apply(status, event)
    assert apply(once, event) == once


def test_the_report_may_arrive_before_the_case_opened():
    status = apply(None, _event(ReportReceived, 2, "t2"))
    status = apply(status, _event(CaseOpened, 1, "t1"))
    assert status.stage == Stage.AWAITING_VERIFICATION
    assert status.nip == "198609262015051001"
