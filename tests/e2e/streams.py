"""Reading a JetStream stream whole, as an operator would: what a test asserts the bus or a feed holds."""

from __future__ import annotations

import nats
import nats.js.errors
import orjson


async def stream_documents(system, stream: str) -> list[dict]:  # noqa: ANN001
    """Every message still in ``stream`` (an erased one is skipped), decoded, in stream order."""
    connection = await nats.connect(system.nats.url)
    try:
        js = connection.jetstream()
        info = await js.stream_info(stream)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                message = await js.get_msg(stream, seq)
            except nats.js.errors.NotFoundError:  # deleted from the stream
                continue
            found.append(orjson.loads(message.data))
        return found
    finally:
        await connection.close()
