"""Small async load generators, run as their own process (`python -m tests.bench.load ...`) so that the
client never shares an event loop with the server it measures. Each prints one JSON line of figures."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time

import httpx
import nats

from tests.e2e.reports import random_nip, report_body


def _nips(count: int, nips_file: str | None, offset: int) -> list[str]:
    """``count`` NIPs: from a fixed-width NIP file (tests/bench/wrk.py) from ``offset`` on, else made up."""
    if not nips_file:
        rng = random.Random(7)
        return [random_nip(rng) for _ in range(count)]
    with open(nips_file, "rb") as handle:
        data = handle.read()
    total = len(data) // 19
    return [data[(i % total) * 19:(i % total) * 19 + 18].decode() for i in range(offset, offset + count)]


async def post_reports(url: str, token: str, count: int, concurrency: int, rate: float | None,
                       nips_file: str | None = None, offset: int = 0, seconds: float | None = None) -> dict:
    """POST ``count`` reports (or, with ``seconds``, as many as ``rate`` gives in that time); at full speed,
    or paced at ``rate`` per second. Every answer that is not a 201 is counted by its status (or error)."""
    if seconds is not None and rate:
        count = int(seconds * rate)
    nips = _nips(count, nips_file, offset)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    latencies: list[float] = []
    failures: dict[str, int] = {}
    start = time.perf_counter()

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                if rate:
                    delay = start + i / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                sent = time.perf_counter()
                try:
                    response = await client.post("/v1/reports", json=report_body(nips[i]))
                except httpx.TimeoutException:
                    failures["timeout"] = failures.get("timeout", 0) + 1
                    continue
                except httpx.HTTPError as error:
                    kind = type(error).__name__
                    failures[kind] = failures.get(kind, 0) + 1
                    continue
                latencies.append(time.perf_counter() - sent)
                if response.status_code != 201:
                    key = str(response.status_code)
                    failures[key] = failures.get(key, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "count": count,
        "failures": failures,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else 0.0,
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000 if latencies else 0.0,
        "nips": nips,
    }


async def raw_publish(url: str, count: int, window: int) -> dict:
    """The ceiling for intake: JetStream publishes with acks, ``window`` in flight, to a scratch stream."""
    connection = await nats.connect(url)
    js = connection.jetstream(timeout=10)
    stream = "BENCH_CEILING"
    try:
        await js.delete_stream(stream)
    except Exception:  # noqa: BLE001 - not there yet
        pass
    await js.add_stream(name=stream, subjects=["bench.ceiling.>"])
    payload = b"x" * 900  # about the size of a report.received envelope
    start = time.perf_counter()
    for offset in range(0, count, window):
        await asyncio.gather(*(
            js.publish("bench.ceiling.report", payload, headers={"Nats-Msg-Id": f"m{offset + i}"})
            for i in range(min(window, count - offset))
        ))
    elapsed = time.perf_counter() - start
    await js.delete_stream(stream)
    await connection.close()
    return {"count": count, "seconds": elapsed, "per_second": count / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    reports = sub.add_parser("reports")
    reports.add_argument("--url", required=True)
    reports.add_argument("--token", required=True)
    reports.add_argument("--count", type=int, default=1000)
    reports.add_argument("--concurrency", type=int, default=32)
    reports.add_argument("--rate", type=float, default=None)
    reports.add_argument("--nips-out", default=None)
    reports.add_argument("--nips-file", default=None)
    reports.add_argument("--offset", type=int, default=0)
    reports.add_argument("--seconds", type=float, default=None)
    publish = sub.add_parser("publish")
    publish.add_argument("--url", required=True)
    publish.add_argument("--count", type=int, default=20000)
    publish.add_argument("--window", type=int, default=256)
    args = parser.parse_args()
    if args.command == "reports":
        result = asyncio.run(post_reports(args.url, args.token, args.count, args.concurrency, args.rate,
                                          args.nips_file, args.offset, args.seconds))
        nips = result.pop("nips")
        if args.nips_out:
            with open(args.nips_out, "w") as handle:
                handle.write("\n".join(nips) + "\n")
    else:
        result = asyncio.run(raw_publish(args.url, args.count, args.window))
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
