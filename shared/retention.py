"""Retention rules as data: per closed outcome, how many Jakarta calendar days after the case closed its
reporter's identity, its evidence links and the case itself are kept (deploy/seed/retention.json, the
operator's to set with SBT_RETENTION_RULES). Pure: loading, checking and when each rule falls due."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.status_model import CLOSED_STAGES, Stage

SHIPPED_RULES = Path(__file__).resolve().parents[1] / "deploy" / "seed" / "retention.json"


class Part(StrEnum):
    """What a rule removes; the order is the order in which they fall due for any valid rule."""

    REPORTER_IDENTITY = "reporter_identity"
    EVIDENCE = "evidence"
    CASE = "case"


class RetentionError(ValueError):
    """A rules file that cannot be used; the message is one line naming the file, the rule and the field."""


_Days = Field(ge=0, le=36500)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    outcome: Stage
    reporter_identity_days: int = _Days
    evidence_days: int = _Days
    case_days: int = _Days
    basis: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _case_last(self) -> Rule:
        # Retiring the case removes its reports with everything in them: a shorter case period would make
        # the longer identity or evidence period a promise the sweep cannot keep.
        if self.outcome not in CLOSED_STAGES:
            raise ValueError(f"{self.outcome.value} is not a closing outcome")
        for name in ("reporter_identity_days", "evidence_days"):
            if getattr(self, name) > self.case_days:
                raise ValueError(f"{name} ({getattr(self, name)}) is longer than case_days ({self.case_days})")
        return self

    def days(self, part: Part) -> int:
        return {Part.REPORTER_IDENTITY: self.reporter_identity_days, Part.EVIDENCE: self.evidence_days,
                Part.CASE: self.case_days}[part]

    def due_on(self, part: Part, closed_on: dt.date) -> dt.date:
        return closed_on + dt.timedelta(days=self.days(part))


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    about: str = ""
    rules: list[Rule]


class RetentionRules:
    def __init__(self, rules: dict[Stage, Rule], source: str) -> None:
        self.by_outcome = rules
        self.source = source

    def rule(self, outcome: Stage | str) -> Rule:
        return self.by_outcome[Stage(outcome)]

    def due(self, outcome: Stage | str, closed_on: dt.date, as_of: dt.date) -> set[Part]:
        """The parts of a case closed with ``outcome`` on ``closed_on`` whose time has come by ``as_of``."""
        rule = self.rule(outcome)
        return {part for part in Part if rule.due_on(part, closed_on) <= as_of}


def parse(raw: bytes, source: str) -> RetentionRules:
    try:
        document = _File.model_validate_json(raw)  # strict: "365" is not a number of days
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "file"
        raise RetentionError(f"{source}: {where}: {first['msg']}") from None
    rules: dict[Stage, Rule] = {}
    for number, rule in enumerate(document.rules):
        if rule.outcome in rules:
            raise RetentionError(f"{source}: rules.{number}.outcome: {rule.outcome.value} has a rule already")
        rules[rule.outcome] = rule
    missing = sorted(stage.value for stage in CLOSED_STAGES if stage not in rules)
    if missing:
        raise RetentionError(f"{source}: rules: no rule for {', '.join(missing)} (every closing outcome needs one)")
    return RetentionRules(rules, source)


def load(path: Path | None = None) -> RetentionRules:
    path = path or SHIPPED_RULES
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise RetentionError(f"{path}: cannot be read ({error.strerror})") from None
    return parse(raw, str(path) if path != SHIPPED_RULES else "deploy/seed/retention.json")
