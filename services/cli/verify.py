"""``sbt export``, ``sbt verify`` and ``sbt witness``: the ledger seen from outside the status service.

``export`` writes the log as JSON lines (a header with the log's public keys, every event in ledger order,
every checkpoint, every case's status), from the status API or straight from the NATS stream. ``verify``
needs nothing but that file (or a saved API answer with ``?proofs=true``) and the keys it pins: it runs
offline. ``witness`` is what another agency runs to co-sign checkpoints after checking consistency.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from shared.events.ledger import LedgerCheckpoint
from shared.events.signing import PinnedKey, ProducerKeys
from shared.ledger import audit, merkle
from shared.ledger import checkpoint as cp
from services.cli.settings import SystemSettings


# --- export -------------------------------------------------------------------------------------------------

def _line(document: dict) -> bytes:
    return orjson.dumps(document) + b"\n"


def _header(source: str, log_id: str | None, keys: dict, witnesses: dict, producers: dict) -> dict:
    return {"kind": "header", "format": audit.EXPORT_FORMAT, "source": source, "log_id": log_id,
            "exported_at": dt.datetime.now(dt.UTC).isoformat(), "keys": keys, "witnesses": witnesses,
            "producers": producers}


# (what is being exported, done, of how many or None when unknown)
Progress = Callable[[str, int, "int | None"], None]


def _silent(_what: str, _done: int, _total: int | None) -> None:
    pass


async def export_from_api(url: str, token: str, out: Path, page: int = 2000,
                          progress: Progress = _silent) -> dict[str, int]:
    counts = {"events": 0, "checkpoints": 0, "statuses": 0}
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        async def get(path: str, **params: Any) -> dict:
            response = await client.get(path, params=params)
            response.raise_for_status()
            return response.json()

        keys = await get("/v1/ledger/keys")
        size = (await get("/v1/ledger/checkpoint")).get("tree_size")  # for the progress bar only
        progress("events", 0, size)
        with out.open("wb") as handle:
            handle.write(_line(_header(url, keys["log_id"], keys["keys"], keys["witnesses"],
                                       keys.get("producers") or {})))
            after: int | None = -1
            while after is not None:
                body = await get("/v1/ledger/entries", after=after, limit=page)
                for entry in body["entries"]:
                    handle.write(_line({"kind": "event", **entry}))
                counts["events"] += len(body["entries"])
                progress("events", counts["events"], max(size or 0, counts["events"]))
                after = body["next_after"]
            checkpoints = (await get("/v1/ledger/checkpoints"))["checkpoints"]
            current = await get("/v1/ledger/checkpoint")
            if all(c["tree_size"] != current["tree_size"] for c in checkpoints):
                checkpoints.append(current)
            for checkpoint in checkpoints:
                handle.write(_line({"kind": "checkpoint", "checkpoint": checkpoint}))
            counts["checkpoints"] = len(checkpoints)
            case_after: str | None = ""
            while case_after is not None:
                body = await get("/v1/ledger/statuses", after=case_after, limit=page)
                for status in body["statuses"]:
                    handle.write(_line({"kind": "status", "status": status}))
                counts["statuses"] += len(body["statuses"])
                progress("statuses", counts["statuses"], None)
                case_after = body["next_after"]
    return counts


async def export_from_stream(settings: SystemSettings, out: Path, progress: Progress = _silent) -> dict[str, int]:
    """Every message of the stream, in stream order: events as leaves, announced checkpoints as checkpoints.
    Events the status service refused (dead letters) are in the stream too, and verify will name them.
    Read as the operator: the embedded server's ``ops`` login, or SBT_NATS_USER."""
    from services.cli.support import connect_ops
    from shared.events.catalog import SUBJECT_PREFIX
    from shared.events.signing import producer_keys_from_settings

    counts = {"events": 0, "checkpoints": 0}
    connection = await connect_ops(settings)
    try:
        js = connection.jetstream()
        last = (await js.stream_info(settings.stream_name)).state.last_seq
        progress("messages", 0, last)
        with out.open("wb") as handle:
            producers = producer_keys_from_settings(settings).document()
            handle.write(_line(_header(f"stream {settings.stream_name}", settings.ledger_log_id, {}, {}, producers)))
            if last:
                subscription = await js.subscribe(f"{SUBJECT_PREFIX}.>", stream=settings.stream_name,
                                                  ordered_consumer=True)
                while True:
                    msg = await subscription.next_msg(timeout=10)
                    document = orjson.loads(msg.data)
                    if document.get("type") == LedgerCheckpoint.event_type:
                        handle.write(_line({"kind": "checkpoint", "checkpoint": document["data"]}))
                        counts["checkpoints"] += 1
                    else:
                        handle.write(_line({"kind": "event", "stream_seq": msg.metadata.sequence.stream,
                                            "envelope": document}))
                        counts["events"] += 1
                    seq = msg.metadata.sequence.stream
                    if seq % 500 == 0 or seq >= last:
                        progress("messages", seq, last)
                    if seq >= last:
                        break
                await subscription.unsubscribe()
    finally:
        await connection.close()
    return counts


# --- verify ---------------------------------------------------------------------------------------------------

def read_lines(path: Path, progress: Callable[[int, int], None] | None = None) -> Iterator[dict]:
    """The records of a JSON-lines file; ``progress(bytes read, file size)`` now and then."""
    size, done = path.stat().st_size, 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle):
            done += len(line)
            if progress and number % 2000 == 0:
                progress(done, size)
            if line.strip():
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError as error:
                    raise ValueError(f"{path}: line {number + 1} is not JSON ({error})") from None
    if progress:
        progress(size, size)


def _public(pem: str):  # noqa: ANN202 - an Ed25519 public key
    return cp.load_private_key(pem).public_key() if "PRIVATE KEY" in pem else cp.load_public_key(pem)


def load_keys(pairs: list[str]) -> dict:
    """``KEY_ID=path/to/public.pem`` (or a private PEM, whose public half is used)."""
    keys = {}
    for pair in pairs:
        key_id, _, path = pair.partition("=")
        if not path:
            raise ValueError(f"{pair!r}: expected KEY_ID=PEM_FILE")
        keys[key_id] = _public(Path(path).read_text())
    return keys


def pinned_keys(pairs: list[str]) -> tuple[dict, ProducerKeys | None]:
    """What ``--key`` pins: ``KEY_ID=PEM_FILE`` (the log's checkpoint key), ``PRODUCER:KEY_ID=PEM_FILE`` (a
    producer's event key), or ``FILE.json``: the whole key set as ``GET /v1/ledger/keys`` publishes it."""
    log: dict = {}
    producers: ProducerKeys | None = None
    for pair in pairs:
        if "=" not in pair and pair.endswith(".json"):
            document = orjson.loads(Path(pair).read_bytes())
            log.update({kid: cp.load_public_key(pem) for kid, pem in (document.get("keys") or {}).items()})
            found = ProducerKeys.from_document(document.get("producers") or {})
            producers = found if producers is None else producers.merged(found)
            continue
        name, _, path = pair.partition("=")
        if not path:
            raise ValueError(f"{pair!r}: expected KEY_ID=PEM_FILE, PRODUCER:KEY_ID=PEM_FILE or KEYS.json")
        producer, colon, key_id = name.partition(":")
        if colon:
            producers = producers or ProducerKeys()
            producers.add(producer, PinnedKey(key_id, _public(Path(path).read_text())))
        else:
            log[name] = _public(Path(path).read_text())
    return log, producers


def _keys_from_header(path: Path) -> tuple[dict, dict, ProducerKeys | None]:
    for record in read_lines(path):
        if record.get("kind") == "header":
            producers = record.get("producers")
            return ({k: cp.load_public_key(v) for k, v in (record.get("keys") or {}).items()},
                    {k: cp.load_public_key(v) for k, v in (record.get("witnesses") or {}).items()},
                    ProducerKeys.from_document(producers) if producers else None)
        break
    return {}, {}, None


def verify_file(path: Path, *, log_keys: list[str], witness_keys: list[str], statuses: Path | None = None,
                proof: bool = False, progress: Callable[[int, int], None] | None = None) -> audit.Report:
    log, producers = pinned_keys(log_keys)
    keys = audit.Keys(log=log, witnesses=load_keys(witness_keys), producers=producers)
    if proof:
        if not keys.log:
            raise ValueError("an answer carries no key: pin the log's key with --key KEY_ID=PEM_FILE")
        return audit.verify_answer(orjson.loads(path.read_bytes()), keys)
    file_log, file_witnesses, file_producers = _keys_from_header(path)
    if not keys.log:
        keys.log = file_log
        keys.witnesses = keys.witnesses or file_witnesses
        keys.from_file = True
    if keys.producers is None and file_producers is not None:
        keys.producers, keys.producers_from_file = file_producers, True
    given: list[dict] = []
    if statuses is not None:
        document = orjson.loads(statuses.read_bytes())
        given = document if isinstance(document, list) else document.get("cases") or [document]
    return audit.verify_export(read_lines(path, progress), keys, given)


# --- witness --------------------------------------------------------------------------------------------------

class WitnessRefusal(Exception):
    """The log's new checkpoint cannot be co-signed: it is not signed by the log, or does not extend the
    last checkpoint this witness co-signed (a rollback or a split view)."""


async def witness(url: str, token: str, *, agency: str, key_pem: str, key_id: str, state_file: Path,
                  log_keys: dict | None = None) -> tuple[cp.Checkpoint, str]:
    """Fetch the log's checkpoint, check it against the last one co-signed, co-sign and send it back.
    Returns the co-signed checkpoint and what was checked."""
    state = orjson.loads(state_file.read_bytes()) if state_file.exists() else {}
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        if not log_keys:
            # Trust on first use: the log's key is pinned in the state file from the first run on.
            pinned = state.get("log_keys") or (await client.get("/v1/ledger/keys")).raise_for_status().json()["keys"]
            log_keys = {k: cp.load_public_key(v) for k, v in pinned.items()}
            state["log_keys"] = pinned
        response = await client.get("/v1/ledger/checkpoint")
        response.raise_for_status()
        checkpoint = cp.Checkpoint.model_validate(response.json())
        try:
            cp.verify(checkpoint, log_keys)
        except cp.SignatureError as error:
            raise WitnessRefusal(str(error)) from None
        last = state.get("checkpoint")
        checked = "first checkpoint witnessed"
        if last is not None:
            old = cp.Checkpoint.model_validate(last)
            if old.log_id != checkpoint.log_id:
                raise WitnessRefusal(f"log id changed from {old.log_id} to {checkpoint.log_id}")
            if checkpoint.tree_size < old.tree_size:
                raise WitnessRefusal(f"the log went back from size {old.tree_size} to {checkpoint.tree_size}")
            if checkpoint.tree_size == old.tree_size or old.tree_size == 0:
                if checkpoint.tree_size == old.tree_size and checkpoint.root_hash != old.root_hash:
                    raise WitnessRefusal(f"two roots for size {old.tree_size}: the log shows two histories")
            else:
                response = await client.get("/v1/ledger/proofs/consistency",
                                            params={"first": old.tree_size, "second": checkpoint.tree_size})
                response.raise_for_status()
                proof = [bytes.fromhex(h) for h in response.json()["proof"]]
                try:
                    merkle.verify_consistency(old.tree_size, checkpoint.tree_size, bytes.fromhex(old.root_hash),
                                              bytes.fromhex(checkpoint.root_hash), proof)
                except merkle.ProofError as error:
                    raise WitnessRefusal(f"size {checkpoint.tree_size} does not extend size {old.tree_size}: {error}") \
                        from None
            checked = f"consistent with size {old.tree_size}"
        key = cp.load_private_key(key_pem)
        cosignature = cp.cosign(checkpoint, agency, key, key_id)
        response = await client.post("/v1/ledger/cosignatures", json={
            "checkpoint": checkpoint.model_dump(mode="json", exclude={"cosignatures"}),
            "cosignature": cosignature.model_dump(mode="json"),
        })
        if response.status_code != 201:
            raise WitnessRefusal(f"the log refused the co-signature: {response.status_code} {response.text}")
        state["checkpoint"] = checkpoint.model_dump(mode="json", exclude={"cosignatures"})
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state_file.write_bytes(orjson.dumps(state, option=orjson.OPT_INDENT_2))
        return cp.Checkpoint.model_validate(response.json()), checked

