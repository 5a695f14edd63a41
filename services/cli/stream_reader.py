"""Reading a JetStream stream from its start, fast and in bounded memory: pull requests for whole batches on
an ephemeral consumer of its own, answered into a plain subscription.

nats.py's own ways to read cost a task per message (``next_msg``, ``fetch``), or, with a callback, let the
server push without limit (a push consumer's flow control is answered as messages arrive, not as they are
used): over a million events either the CPU or the memory runs out. Here the server sends only what was
asked for, and the next batch is asked for while the last one is being used: two batches at most.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

# The header of the server's status messages, which end a pull request early: no more messages (404), the
# request expired (408), the consumer went away (409).
_STATUS = "Status"


class StreamStalled(TimeoutError):
    """The stream sent nothing for too long before the position the reader was asked to reach."""


class StreamReader:
    def __init__(self, connection: Client, stream: str, *, subjects: str, batch: int = 1000,
                 silence_seconds: float = 10.0) -> None:
        self.connection = connection
        self.stream = stream
        self.subjects = subjects
        self.batch = batch
        self.silence_seconds = silence_seconds

    async def read(self, until: int) -> AsyncIterator[list[Msg]]:
        """Every message from the stream's start up to sequence ``until``, in order, a batch at a time."""
        js = self.connection.jetstream()
        consumer = await js.add_consumer(self.stream, ConsumerConfig(
            ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, filter_subject=self.subjects,
            inactive_threshold=max(60.0, 3 * self.silence_seconds),
        ))
        requests: deque[_Request] = deque()  # asked for, in the order the server answers them

        async def on_message(msg: Msg) -> None:
            filling = requests[0] if requests else None
            if filling is None:
                return  # nothing was asked for: a late answer to a request given up on
            if msg.headers and _STATUS in msg.headers and not msg.data:
                filling.close()  # it ended early
            else:
                filling.add(msg)
            if filling.complete:
                requests.popleft()

        inbox = self.connection.new_inbox()
        subscription = await self.connection.subscribe(inbox, cb=on_message)
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{consumer.name}"
        body = orjson.dumps({"batch": self.batch, "no_wait": True})

        async def ask() -> _Request:
            request = _Request(self.batch)
            requests.append(request)
            await self.connection.publish(subject, body, reply=inbox)
            return request

        try:
            reached, next_request = 0, await ask()
            while reached < until:
                batch = await next_request.answer(self.silence_seconds, self.stream)
                if not batch:
                    await asyncio.sleep(0.05)  # nothing more yet: ask again shortly
                    next_request = await ask()
                    continue
                if batch[-1].metadata.sequence.stream < until:
                    next_request = await ask()  # delivered while this batch is used
                batch = [msg for msg in batch if msg.metadata.sequence.stream <= until]
                if batch:
                    reached = batch[-1].metadata.sequence.stream
                    yield batch
        finally:
            await subscription.unsubscribe()
            with contextlib.suppress(Exception):
                await js.delete_consumer(self.stream, consumer.name)


class _Request:
    """One pull request's answer, filled by the subscription's callback."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.msgs: list[Msg] = []
        self.complete = False
        self._done = asyncio.Event()

    def add(self, msg: Msg) -> None:
        self.msgs.append(msg)
        if len(self.msgs) >= self.size:
            self.close()

    def close(self) -> None:
        self.complete = True
        self._done.set()

    async def answer(self, silence_seconds: float, stream: str) -> list[Msg]:
        """The messages it brought (fewer than asked when the stream ran out)."""
        while not self.complete:
            heard = len(self.msgs)
            try:
                await asyncio.wait_for(self._done.wait(), silence_seconds)
            except TimeoutError:
                if len(self.msgs) == heard:
                    raise StreamStalled(f"nothing from stream {stream} for {silence_seconds:g}s") from None
        return self.msgs
