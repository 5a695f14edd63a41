"""``sbt archive``: fetch an election's signed archive from the status service into a file, verify it here
(offline, as `sbt verify FILE` does) and record it at intake with its hash, the cases it holds and its seal (intake checks the seal's signature); only
then may the retention sweep retire those cases. Verifying an archive file: ``verify_archive_file``."""

from __future__ import annotations

from pathlib import Path

import httpx

from shared.ledger import archive, audit


def verify_archive_file(path: Path, log_keys: list[str]) -> tuple[audit.Report, dict]:
    from services.cli.verify import pinned_keys

    log, producers = pinned_keys(log_keys)
    keys = audit.Keys(log=log, producers=producers)
    with path.open("rb") as handle:
        return archive.verify_archive(iter(handle), keys)


def file_is_archive(path: Path) -> bool:
    import orjson

    with path.open("rb") as handle:
        first = handle.readline()
    try:
        document = orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return isinstance(document, dict) and archive.is_archive(document)


async def fetch(status_url: str, token: str, election: str, out: Path) -> None:
    async with httpx.AsyncClient(base_url=status_url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=300) as client:
        async with client.stream("GET", f"/v1/ledger/archives/{election}") as response:
            if response.status_code != 200:
                await response.aread()
                raise ValueError(f"the status service answered {response.status_code}: {response.text[:300]}")
            with out.open("wb") as handle:
                async for chunk in response.aiter_bytes():
                    handle.write(chunk)


async def record(intake_url: str, token: str, election: str, sha256: str, summary: dict) -> dict:
    async with httpx.AsyncClient(base_url=intake_url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=60) as client:
        response = await client.post("/v1/retention/archives", json={
            "election_code": election, "sha256": sha256, "events": summary["events"],
            "case_ids": summary["case_ids"], "seal": summary["seal"]})
    if response.status_code != 201:
        raise ValueError(f"intake refused to record the archive: {response.status_code} {response.text[:300]}")
    return response.json()


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return archive.file_sha256(iter(lambda: handle.read(1 << 20), b""))
