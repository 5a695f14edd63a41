"""A large stream for the replay benchmark, published straight into JetStream: intake's events (a case
opened and its report received, per civil servant), valid and hash-chained exactly as the relay chains
them, so the status service applies them as it would real ones. Filing a million events through the REST
API would measure intake, not the replay.

    python -m tests.bench.synthetic_stream --url nats://... --cases 500000
prints one JSON line: events published and seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import time

import nats

from shared.events import nats_subject
from shared.events.envelope import GENESIS_HASH, Envelope, utc_now_text
from shared.events.intake import CaseOpened, ReportReceived
from shared.ids import new_id
from tests.e2e.reports import random_nip
from tests.harness.signing import fixed_key

WINDOW = 2000  # publishes in flight before their acks are awaited together


def _envelope(data, subject: str) -> Envelope:  # noqa: ANN001 - an EventData
    return Envelope(id=new_id(), source=f"/sbt/{data.producer}", type=data.event_type, time=utc_now_text(),
                    subject=subject, data=data.model_dump(mode="json", exclude_none=True))


def case_events(rng: random.Random, received_at: dt.datetime) -> list[Envelope]:
    case_id, report_id, nip = new_id(), new_id(), random_nip(rng)
    opened = CaseOpened(case_id=case_id, nip=nip, election_code="PILKADA-2024", agency_code="PEMPROV-JABAR",
                        province="JAWA BARAT", first_report_id=report_id, opened_at=received_at, nip_in_roster=True)
    received = ReportReceived(
        report_id=report_id, case_id=case_id, nip=nip, agency_code="PEMPROV-JABAR", election_code="PILKADA-2024",
        violation_codes=["ETIK-MEDSOS"], incident_date=received_at.date(), incident_place="Kota Bandung",
        province="JAWA BARAT", description="Membagikan konten kampanye di media sosial.",
        reporter_category="bawaslu", complaint_ref=f"{rng.getrandbits(256):064x}", received_at=received_at,
        nip_in_roster=True,
    )
    return [_envelope(opened, case_id), _envelope(received, case_id)]


async def publish(url: str, cases: int, seed: int = 11, after_seq: int = 0, after_hash: str = GENESIS_HASH) -> dict:
    """Publishes ``cases`` cases' events, continuing intake's chain after (``after_seq``, ``after_hash``),
    its head when intake has published before (intake must be idle meanwhile, or the chain would fork)."""
    rng = random.Random(seed)
    key = fixed_key("intake")  # what intake signs with in a test system (tests/harness/signing.py)
    connection = await nats.connect(url)
    js = connection.jetstream(timeout=30)
    seq, prev, sent = after_seq, after_hash, 0
    started = time.perf_counter()
    received_at = dt.datetime(2024, 10, 15, 3, tzinfo=dt.UTC)
    try:
        pending = []
        for _ in range(cases):
            for envelope in case_events(rng, received_at):
                seq += 1
                chained = envelope.chained(seq, prev, key)
                prev = chained.hash
                model = CaseOpened if chained.type == CaseOpened.event_type else ReportReceived
                pending.append(js.publish(nats_subject(model), chained.model_dump_json(exclude_none=True).encode(),
                                          headers={"Nats-Msg-Id": chained.id}))
                if len(pending) >= WINDOW:
                    await asyncio.gather(*pending)
                    sent += len(pending)
                    pending = []
        if pending:
            await asyncio.gather(*pending)
            sent += len(pending)
    finally:
        await connection.close()
    return {"events": sent, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--after-seq", type=int, default=0)
    parser.add_argument("--after-hash", default=GENESIS_HASH)
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(publish(arguments.url, arguments.cases, after_seq=arguments.after_seq,
                                         after_hash=arguments.after_hash))))


if __name__ == "__main__":
    main()
