"""The retention rules file: the shipped one loads; a bad one is refused in one line naming rule and field;
each part falls due on the day its period ends, not the day before."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from shared import retention
from shared.retention import Part, RetentionError
from shared.status_model import CLOSED_STAGES


def _file(**changes) -> bytes:  # noqa: ANN003
    rules = [{"outcome": stage.value, "reporter_identity_days": 10, "evidence_days": 20, "case_days": 30}
             for stage in sorted(CLOSED_STAGES)]
    rules[0].update(changes)
    return orjson.dumps({"rules": rules})


def test_the_shipped_rules_cover_every_closing_outcome():
    rules = retention.load()
    assert set(rules.by_outcome) == set(CLOSED_STAGES)
    assert rules.rule("rejected").reporter_identity_days == 365
    assert rules.rule("sanctioned").case_days == 1825


@pytest.mark.parametrize(("changes", "message"), [
    ({"case_days": 5}, "rules.0: Value error, reporter_identity_days (10) is longer than case_days (5)"),
    ({"evidence_days": "20"}, "rules.0.evidence_days: Input should be a valid integer"),
    ({"evidence_days": -1}, "rules.0.evidence_days: Input should be greater than or equal to 0"),
    ({"outcome": "alleged"}, "rules.0: Value error, alleged is not a closing outcome"),
    ({"outcome": "lost"}, "rules.0.outcome: Input should be"),
    ({"keep": 1}, "rules.0.keep: Extra inputs are not permitted"),
])
def test_a_bad_rule_is_named_in_one_line(changes, message):
    with pytest.raises(RetentionError) as refused:
        retention.parse(_file(**changes), "rules.json")
    text = str(refused.value)
    assert text.startswith(f"rules.json: {message}") and "\n" not in text


def test_every_outcome_needs_exactly_one_rule():
    document = orjson.loads(_file())
    with pytest.raises(RetentionError, match="no rule for"):
        retention.parse(orjson.dumps({"rules": document["rules"][1:]}), "rules.json")
    with pytest.raises(RetentionError, match="has a rule already"):
        retention.parse(orjson.dumps({"rules": [*document["rules"], document["rules"][0]]}), "rules.json")


def test_parts_fall_due_on_the_last_day_of_their_period():
    rules = retention.parse(_file(), "rules.json")
    outcome = sorted(CLOSED_STAGES)[0]
    closed = dt.date(2025, 1, 31)
    assert rules.due(outcome, closed, closed + dt.timedelta(days=9)) == set()
    assert rules.due(outcome, closed, closed + dt.timedelta(days=10)) == {Part.REPORTER_IDENTITY}
    assert rules.due(outcome, closed, closed + dt.timedelta(days=30)) == set(Part)
