"""The in-memory block index: a NIP read again from the database replaces what was known of it, unless
this process wrote that NIP meanwhile; a bus message only names the NIP."""

from __future__ import annotations

import datetime as dt

import orjson

from services.blocking.block_index import BlockIndex, _nip_of
from services.blocking.models import Block

NIP = "198609262015051001"
AT = dt.datetime(2024, 11, 5, 3, tzinfo=dt.UTC)


def _block(block_id: str, nip: str = NIP) -> Block:
    return Block(block_id=block_id, nip=nip, case_id=None, agency_code=None, cause="manual", reason="Uji.",
                 blocked_at=AT)


def test_a_read_of_the_database_replaces_the_nips_blocks():
    index = BlockIndex()
    index.load([_block("B1"), _block("B2")])
    index.replace(NIP, [_block("B2")])
    assert [b["block_id"] for b in orjson.loads(index.answer(NIP))["blocks"]] == ["B2"]
    index.replace(NIP, [])
    assert index.is_blocked(NIP) == (False, None)
    assert orjson.loads(index.answer(NIP))["blocked"] is False


def test_a_read_begun_before_an_own_write_does_not_undo_it():
    index = BlockIndex()
    index.load([])
    before = index.writes_to(NIP)  # the read begins, then this process's block commits
    index.put_row(_block("B1"))
    index.replace(NIP, [], unless_written_since=before)  # what the read saw: nothing yet
    assert index.is_blocked(NIP)[0] is True
    index.replace(NIP, [_block("B1")], unless_written_since=index.writes_to(NIP))
    assert index.is_blocked(NIP)[0] is True


def test_only_a_well_formed_nip_is_taken_from_a_bus_message():
    assert _nip_of(orjson.dumps({"data": {"nip": NIP, "block_id": "B1"}})) == NIP
    for payload in (b"not json", b"{}", orjson.dumps({"data": {"nip": "123"}}),
                    orjson.dumps({"data": {"nip": 198609262015051001}}), orjson.dumps({"data": []})):
        assert _nip_of(payload) is None
