"""The dashboard for the people who read it: Bahasa Indonesia by default with no English word left, English
with ?lang=en and kept for the next pages, agency and PPK names instead of codes, violation descriptions,
and times in the civil servant's own zone; and /docs served offline from the service's own files."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from shared.i18n import LOCALE_DIR
from tests.e2e.reports import random_nip, report_body
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e



def _english_msgids() -> set[str]:
    """The English words that have an Indonesian translation different from themselves."""
    with (LOCALE_DIR / "id" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source, locale="id")
    words = set()
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        words.update(i for i in ids if "%(" not in i and i not in strings)
    return words


def _texts(html: str) -> list[str]:
    body = re.sub(r"<script.*?</script>|<[^>]+>", "\n", html, flags=re.S)
    return [line.strip() for line in body.splitlines() if line.strip()]


def _leftover_english(html: str, english: set[str]) -> list[str]:
    return [text for text in _texts(html) if text in english or text.rstrip(".") in english]


async def test_indonesian_by_default_english_by_choice_with_names_and_local_times(make_system):
    # Agencies and violations by name: the shipped reference data, published as `sbt run` loads it.
    system = await make_system("intake", "status", reference_data="published")
    nip = random_nip()
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        filed = await client.post("/v1/reports", json=report_body(
            nip, agency_code="PEMPROV-NTT", province="NUSA TENGGARA TIMUR", election_code="PEMILU-2024"))
    assert filed.status_code == 201, filed.text
    case_id = filed.json()["case_id"]
    english = _english_msgids()

    async with system.client("status", system.token("BKN", "observer")) as observer:
        async def named():
            page = await observer.get(f"/dashboard/cases/{case_id}")
            return page if page.status_code == 200 and "Gubernur Nusa Tenggara Timur" in page.text else None

        case = await eventually(named, 30, "the case page with its agency's names")
        assert '<html lang="id">' in case.text
        assert "Pemerintah Provinsi Nusa Tenggara Timur" in case.text and "PEMPROV-NTT" not in case.text
        assert "Kampanye atau sosialisasi calon melalui media sosial" in case.text
        assert "diduga" in case.text or "menunggu verifikasi" in case.text
        # Local time with its zone (NTT keeps WITA), no microseconds; the full id stays on the page.
        assert re.search(r"\d{1,2} \w{3} \d{4} \d{2}\.\d{2} WITA", case.text), _texts(case.text)
        assert not re.search(r"\d{2}:\d{2}:\d{2}", "\n".join(_texts(case.text)))  # the datetime attribute keeps UTC
        assert f'title="{case_id}"' in case.text
        assert not _leftover_english(case.text, english), _leftover_english(case.text, english)

        overview = await observer.get("/dashboard")
        assert overview.status_code == 200 and '<html lang="id">' in overview.text
        assert "Kasus terbaru" in overview.text and "Pemerintah Provinsi Nusa Tenggara Timur" in overview.text
        assert not _leftover_english(overview.text, english), _leftover_english(overview.text, english)
        nip_page = await observer.get("/dashboard/nip", params={"nip": nip})
        assert "Tidak diblokir" in nip_page.text and "1 kasus" in nip_page.text
        assert not _leftover_english(nip_page.text, english), _leftover_english(nip_page.text, english)

        # English by choice, and kept: the next page without ?lang is English too.
        chosen = await observer.get("/dashboard", params={"lang": "en"})
        assert '<html lang="en">' in chosen.text and "Latest cases" in chosen.text
        cookie = chosen.headers["set-cookie"].lower()
        assert "sbt_lang=en" in cookie and "samesite=lax" in cookie
        later = await observer.get(f"/dashboard/cases/{case_id}")
        assert '<html lang="en">' in later.text and "Governor" not in later.text
        assert "Gubernur Nusa Tenggara Timur" in later.text  # a title is a name: not translated
        assert "Case" in later.text and "Kasus" not in later.text
        back = await observer.get("/dashboard/nip", params={"nip": nip, "lang": "id"})
        assert '<html lang="id">' in back.text and "1 kasus" in back.text

        missing = await observer.get("/dashboard/cases/01NOSUCHCASE00000000000000", params={"lang": "id"})
        assert missing.status_code == 404 and "Kasus tidak ditemukan" in missing.text


async def test_the_api_docs_need_nothing_from_outside(make_system):
    system = await make_system("intake")
    async with system.client("intake") as anyone:
        for path in ("/docs", "/redoc"):
            page = await anyone.get(path)
            assert page.status_code == 200
            urls = re.findall(r'(?:src|href|spec-url|data-openapi-url)="([^"]+)"', page.text)
            assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
            assert "http" not in page.text.lower().replace("http-equiv", "")
            for url in urls:
                assert (await anyone.get(url)).status_code == 200, url
        spec = (await anyone.get("/openapi.json")).json()
        report = spec["paths"]["/v1/reports"]["post"]["responses"]
        assert {"401", "403", "429", "422"} <= set(report)
        assert report["401"]["content"]["application/problem+json"]["schema"]["$ref"] == "#/components/schemas/Problem"
