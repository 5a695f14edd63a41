"""The status service consumes every case event: it checks it against its producer's chain, makes it the
ledger's next leaf, logs it and folds it into its case's status with the shared pure ``apply``, a whole
batch at a time, in one transaction (services/status/applying.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.status import retirement
from services.status.applying import Applier
from services.status.ledger.service import NOT_LOGGED
from services.status.ledger.store import Ledger
from services.status.projection import Projection
from shared.events import EVENT_MODELS, EventData
from shared.messaging.consumer import BatchHandlers, Incoming

# Every event, but the ledger's own checkpoint announcements.
CONSUMED = frozenset(model for event_type, model in EVENT_MODELS.items() if event_type not in NOT_LOGGED)


def handlers(ledger: Ledger) -> BatchHandlers:
    async def apply_batch(session: AsyncSession, events: list[Incoming[EventData]]) -> None:
        applier = await Applier.begin(session, ledger, [event.envelope for event in events])
        for event in events:
            # The consumer admitted each event only after checking its content against its hash.
            await applier.apply(session, event.envelope, event.stream_seq, hash_checked=True)
        await applier.flush(session)
        await retirement.retire(session, {event.envelope.subject: event.envelope.id for event in events
                                          if event.envelope.type == retirement.RETIRED})

    # Applying stages no events of the status service's own: the relay need not wake after every batch.
    return BatchHandlers(CONSUMED, apply_batch, prepare=ledger.lock, stages_events=False)


async def record(session: AsyncSession, event: Incoming[EventData]) -> None:
    """Log one event and fold it into the read model, outside the ledger (for tests of the read model)."""
    projection = Projection()
    await projection.load(session, [event.envelope])
    await projection.record(session, event.envelope, event.stream_seq)
    await projection.flush(session)
