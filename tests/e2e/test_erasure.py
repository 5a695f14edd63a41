"""Erasure erases: once a reporter's identity is erased, nothing left anywhere opens to it.

Searched as an insider would: every byte of every file of the system (databases with their WAL and
shared memory, keys, the NATS store, logs), every message of the stream, and on PostgreSQL every row of
every table of every service's database and, as a superuser, the tables' files themselves. Every token
that looks like a sealed value or a wrapped key is tried with every key the deployment holds: the
master key, and every data key it unwraps. Before the erasure the same search opens the identity (so
the search is able to find it); afterwards only the other, unerased report's identity opens.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import asyncpg
import nats
import pytest

from shared.crypto import CryptoError, Keyring, open_sealed
from tests.e2e.reports import random_nip, report_body
from tests.harness.database import backend
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

ERASED = {"category": "bawaslu", "name": "Wombatwijaya Erasmus", "contact": "wombat-4417@saksi.example"}
KEPT = {"category": "bawaslu", "name": "Numbatnugroho Tetap", "contact": "numbat-5523@saksi.example"}
ERASED_MARKERS = (b"Wombatwijaya", b"wombat-4417")
KEPT_MARKER = b"Numbatnugroho"

_B64 = rb"[A-Za-z0-9_-]"
# shared/crypto.py: a wrapped key is v1.<kid>.<nonce>.<key sealed: 32 + 16 bytes>, a sealed value
# v1.<nonce>.<ciphertext>; a 12-byte nonce is 16 characters. Whatever follows a token in a file is cut
# off below by trying every length.
WRAPPED = re.compile(rb"v1\.(" + _B64 + rb"{1,40})\.(" + _B64 + rb"{16})\.(" + _B64 + rb"{64})")
SEALED = re.compile(rb"v1\.(" + _B64 + rb"{16})\.(" + _B64 + rb"{22,})")


class Findings:
    def __init__(self) -> None:
        self.texts: dict[str, bytes] = {}

    def add(self, where: str, data: bytes) -> None:
        self.texts[where] = data

    def holding(self, marker: bytes) -> list[str]:
        return [where for where, data in self.texts.items() if marker in data]

    def wrapped_keys(self) -> dict[str, set[str]]:
        """Each wrapped key found, and where."""
        found: dict[str, set[str]] = {}
        for where, data in self.texts.items():
            for match in WRAPPED.finditer(data):
                found.setdefault(match.group(0).decode(), set()).add(where)
        return found

    def sealed_values(self) -> set[tuple[str, str]]:
        return {(m.group(1).decode(), m.group(2).decode()) for data in self.texts.values()
                for m in SEALED.finditer(data)}


def _files(findings: Findings, folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            findings.add(str(path.relative_to(folder)), path.read_bytes())


async def _stream(findings: Findings, system) -> None:  # noqa: ANN001
    connection = await nats.connect(system.nats.url)
    try:
        js = connection.jetstream()
        info = await js.stream_info("SBT_EVENTS")
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                message = await js.get_msg("SBT_EVENTS", seq)
            except nats.js.errors.NotFoundError:
                continue
            headers = repr(message.headers or {}).encode()
            findings.add(f"stream message {seq}", headers + b"\n" + (message.data or b""))
    finally:
        await connection.close()


async def _postgres(findings: Findings, system) -> dict[str, int]:  # noqa: ANN001
    """Every row of every table as text, and (as a superuser) every table's and index's file as stored."""
    stored: dict[str, int] = {}
    for service in system.databases.services:
        connection = await asyncpg.connect(system.databases.url(service).replace("+asyncpg", ""))
        try:
            superuser = await connection.fetchval("SELECT current_setting('is_superuser') = 'on'")
            if superuser:
                await connection.execute("CHECKPOINT")  # what the buffers hold, written to the files
            tables = await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            for (table,) in tables:
                rows = await connection.fetch(f'SELECT t::text FROM "{table}" t')
                findings.add(f"{service}.{table} rows", "\n".join(r[0] for r in rows).encode())
            if superuser:
                relations = await connection.fetch(
                    "SELECT c.relname, pg_relation_filepath(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 't', 'i', 'm')")
                for name, path in relations:
                    if path is None:
                        continue
                    raw = await connection.fetchval("SELECT pg_read_binary_file($1, 0, "
                                                    "(pg_stat_file($1)).size)", path)
                    findings.add(f"{service} file of {name}", bytes(raw))
                    stored[f"{service}.{name}"] = len(raw)
        finally:
            await connection.close()
    return stored


async def _search(system) -> Findings:  # noqa: ANN001
    findings = Findings()
    _files(findings, system.folder)
    await _stream(findings, system)
    if backend() == "postgresql":
        await _postgres(findings, system)
    return findings


def _unwrapped(findings: Findings, ring: Keyring, report_ids: list[str]) -> dict[str, tuple[bytes, set[str]]]:
    """report id -> a data key the master key unwraps from a token found, and where it was found."""
    keys = {}
    for wrapped, where in findings.wrapped_keys().items():
        for report_id in report_ids:
            try:
                keys[report_id] = ring.unwrap(wrapped, f"report/{report_id}/reporter"), where
            except CryptoError:
                continue
    return keys


def _opened(findings: Findings, ring: Keyring, report_ids: list[str]) -> list[bytes]:
    """Every plaintext that any key of the deployment opens from any token found."""
    contexts = [f"report/{report_id}/reporter" for report_id in report_ids]
    data_keys = {key for key, _where in _unwrapped(findings, ring, report_ids).values()}
    candidates = [*data_keys, *ring.keys.values()]  # the master keys too, as if they sealed directly
    opened = []
    for nonce, ciphertext in findings.sealed_values():
        for length in range(len(ciphertext), 21, -1):
            sealed = f"v1.{nonce}.{ciphertext[:length]}"
            for key in candidates:
                for context in contexts:
                    try:
                        opened.append(open_sealed(key, sealed, context))
                    except CryptoError:
                        continue
    return opened


async def _relfilenode(system, table: str) -> int:  # noqa: ANN001
    connection = await asyncpg.connect(system.databases.url("intake").replace("+asyncpg", ""))
    try:
        return await connection.fetchval("SELECT pg_relation_filenode($1::regclass)", table)
    finally:
        await connection.close()


async def test_after_erasure_nothing_anywhere_opens_to_the_reporter_identity(make_system):
    system = await make_system("intake", "recommendation", "status")
    report_ids, case_ids = [], []
    async with system.client("intake", system.token("BAWASLU", "reporter")) as bawaslu:
        # The erased one filed last: on PostgreSQL its key row then lies where a plain VACUUM would leave
        # its bytes in the page (nothing moves over them), which the raw read of the table's file finds.
        for reporter in (KEPT, ERASED):
            filed = await bawaslu.post("/v1/reports", json=report_body(random_nip(), reporter=reporter))
            assert filed.status_code == 201, filed.text
            report_ids.append(filed.json()["report_id"])
            case_ids.append(filed.json()["case_id"])
    kept_id, erased_id = report_ids

    async def consumed():  # both reports in the other services' databases too
        async with system.client("status", system.token("BKN", "observer")) as client:
            for case_id in case_ids:
                events = (await client.get(f"/v1/cases/{case_id}/timeline")).json().get("events", [])
                if len(events) < 2:
                    return None
        return await system.scalar("recommendation", "SELECT count(*) FROM cases") == 2 or None

    await eventually(consumed, 20, "both reports consumed by status and recommendation")
    ring = Keyring.from_settings(system.settings)  # the development master key, as the deployment holds it
    async with system.client("intake", system.token("KASN", "verifier")) as verifier:
        shown = (await verifier.get(f"/v1/reports/{erased_id}")).json()
        assert shown["reporter_identity"] == "shown"

    before = await _search(system)
    opened_before = b"\n".join(_opened(before, ring, report_ids))
    assert ERASED_MARKERS[0] in opened_before and KEPT_MARKER in opened_before, "the search finds no identity"
    if backend() == "postgresql":
        keys_file = await _relfilenode(system, "reporter_identity_keys")

    async with system.client("intake", system.token("SBT", "admin")) as admin:
        assert (await admin.delete(f"/v1/reports/{erased_id}/reporter-identity")).status_code == 204
        assert (await admin.get(f"/v1/reports/{erased_id}")).json()["reporter_identity"] == "erased"
        assert (await admin.get(f"/v1/reports/{kept_id}")).json()["reporter_identity"] == "shown"

    assert await system.scalar("intake", "SELECT count(*) FROM reporter_identity_keys WHERE report_id = :id",
                               id=erased_id) == 0
    if backend() == "postgresql":
        # Rewritten (VACUUM FULL): a plain VACUUM would leave the deleted row's bytes in the old file.
        # (pg_stat_user_tables' n_dead_tup is no proof: VACUUM FULL keeps a deleted row that a running
        # transaction may still see; the raw read of the new file in the search below is the proof.)
        assert await _relfilenode(system, "reporter_identity_keys") != keys_file

    after = await _search(system)
    for marker in (*ERASED_MARKERS, KEPT_MARKER):
        assert after.holding(marker) == [], f"{marker!r} in clear in {after.holding(marker)}"
    unwrapped = _unwrapped(after, ring, report_ids)
    assert erased_id not in unwrapped, f"the erased data key unwraps, found in {unwrapped[erased_id][1]}"
    opened_after = _opened(after, ring, report_ids)
    assert any(KEPT_MARKER in plaintext for plaintext in opened_after), "the kept identity no longer opens"
    for plaintext in opened_after:
        for marker in ERASED_MARKERS:
            assert marker not in plaintext, "the erased identity opened again"


async def test_the_data_folder_and_its_files_are_readable_by_their_owner_only(make_system):
    system = await make_system("intake", "status")
    async with system.client("intake", system.token("BAWASLU", "reporter")) as bawaslu:
        assert (await bawaslu.post("/v1/reports", json=report_body(reporter=ERASED))).status_code == 201

    assert stat.S_IMODE(system.data_dir.stat().st_mode) == 0o700
    keys = sorted(system.data_dir.rglob("*"))
    assert {path.name for path in keys} >= {"dev-master-key", "intake.pem"}
    databases = sorted(system.folder.glob("*.db*")) if backend() == "sqlite" else []
    if backend() == "sqlite":
        assert {path.name for path in databases} >= {"intake.db", "intake.db-wal", "intake.db-shm", "status.db"}
    # Files 0600, folders (keys/events/ for the producers' signing keys) 0700.
    loose = {str(path): oct(stat.S_IMODE(path.stat().st_mode)) for path in [*keys, *databases]
             if stat.S_IMODE(path.stat().st_mode) != (0o700 if path.is_dir() else 0o600)}
    assert loose == {}
