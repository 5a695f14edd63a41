"""An election's archive, made by the status service (the holder of the log's key): see shared/ledger/archive.py
for what it holds and how it is checked. Read in one snapshot, so the checkpoint covers every event shown."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import orjson
from sqlalchemy import select

from services.status.ledger import service
from services.status.models import CaseRow, LoggedEvent
from services.status.retirement import is_redacted
from shared.ledger.archive import ARCHIVE_FORMAT, Sealer
from shared.status_model import CLOSED_STAGES

CLOSED = frozenset(stage.value for stage in CLOSED_STAGES)


async def archive_lines(runtime, election_code: str) -> AsyncIterator[bytes]:  # noqa: ANN001 - the status Runtime
    parts = service.ledger_of(runtime)
    async with runtime.sessions() as session:
        if session.bind.dialect.name == "postgresql":
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        cases = (await session.execute(select(CaseRow.case_id, CaseRow.state)
                                       .where(CaseRow.election_code == election_code)
                                       .order_by(CaseRow.case_id))).all()
        case_ids = [row.case_id for row in cases]
        logged: list[tuple[int, str]] = []
        for start in range(0, len(case_ids), 500):
            logged += [(row.stream_seq, row.envelope) for row in (await session.execute(
                select(LoggedEvent.stream_seq, LoggedEvent.envelope)
                .where(LoggedEvent.subject.in_(case_ids[start:start + 500])))).all()
                if not is_redacted(row.envelope)]
        logged.sort()
        checkpoint, proofs = await service.evidence(runtime, session, logged, True)
    sealer = Sealer(parts.signer.key, parts.signer.key_id)
    yield sealer.add({"kind": "header", "format": ARCHIVE_FORMAT, "election_code": election_code,
                      "made_at": runtime.clock.now().astimezone(dt.UTC).isoformat(), "log_id": parts.signer.log_id,
                      "keys": {parts.signer.key_id: parts.signer.public_pem},
                      "producers": runtime.producer_keys.document(),
                      "checkpoint": checkpoint.model_dump(mode="json")})
    for proof in proofs or []:
        yield sealer.add({"kind": "event", **proof})
    states = [orjson.loads(row.state) for row in cases]
    for state in states:
        yield sealer.add({"kind": "status", "status": state})
    yield sealer.seal(election_code=election_code, events=len(proofs or []), case_ids=case_ids,
                      closed_case_ids=[state["case_id"] for state in states if state.get("stage") in CLOSED])
