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


def _lifecycle() -> list[Envelope]:
    """Every event the status folds, about one case, in a plausible order, with a duplicate and a report
    that arrives before its case opened."""
    from shared.events import EVENT_MODELS
    from shared.status_model import APPLIERS

    order = ["sbt.report.received.v1", "sbt.case.opened.v1", *[t for t in APPLIERS if t not in
             ("sbt.report.received.v1", "sbt.case.opened.v1", "sbt.personnel.unblocked.v1")],
             "sbt.personnel.unblocked.v1"]
    case_id = CaseOpened.examples[0]["case_id"]
    events = []
    for seq, event_type in enumerate(order, start=1):
        model = EVENT_MODELS[event_type]
        data = {**model.examples[0], "case_id": case_id}
        events.append(Envelope(id=f"ev{seq}", source=f"/sbt/{model.producer}", type=event_type,
                               time=f"2024-10-15T03:00:{seq:02d}Z", subject=case_id, data=data))
    return [*events[:4], events[3], *events[4:]]


def test_folding_in_place_gives_exactly_what_apply_gives_after_every_event():
    from shared.status_model import apply_in_place

    status, draft = None, None
    for envelope in _lifecycle():
        status = apply(status, envelope)
        draft, changed = apply_in_place(draft, envelope)
        assert draft is not None and status is not None
        assert draft.status().model_dump_json() == status.model_dump_json()
        assert draft.status() == status
    assert status.stage == Stage.SANCTIONED and status.unblocked and status.events_applied == len(_lifecycle()) - 1


def test_folding_in_place_says_when_an_event_changes_nothing():
    from shared.status_model import apply_in_place

    events = _lifecycle()
    draft, changed = apply_in_place(None, events[2])  # needs a case that is not there yet
    assert (draft, changed) == (None, False)
    draft, _ = apply_in_place(None, events[0])
    again, changed = apply_in_place(draft, events[0])
    assert again is draft and not changed


def test_a_folded_status_is_the_model_apply_gives_field_for_field():
    from shared.status_model import CaseStatus, StatusDraft, apply_in_place

    status, draft = None, None
    for envelope in _lifecycle():
        status = apply(status, envelope)
        draft, _ = apply_in_place(draft, envelope)
    made = draft.status()
    assert made.__dict__ == status.__dict__ and set(made.__dict__) == set(CaseStatus.model_fields)
    assert StatusDraft(made).status() == made
