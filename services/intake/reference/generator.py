"""``sbt seed roster``: a realistic, deterministic roster of any size with valid, unique NIPs.

NIPs follow the PNS layout (birth date, TMT CPNS month at age 20 to 35, sex digit, serial). As in the real
register, the serial is usually 001 and grows only when two people share birth date, start month and sex.
About a quarter of the rows are PPPK and about 77% work in regional governments, as in the 2024 figures.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from services.intake.reference.records import ROSTER_COLUMNS

REGIONAL_SHARE = 0.77
PPPK_SHARE = 0.25
LATEST_SERVICE_YEAR = 2024
_BIRTH_FIRST = dt.date(1965, 1, 1)
_BIRTH_DAYS = (dt.date(2002, 12, 31) - _BIRTH_FIRST).days


@dataclass(frozen=True)
class SeedAgency:
    code: str
    level: str
    province: str | None


def load_agencies(path: Path) -> list[SeedAgency]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return [
            SeedAgency(row["code"].strip(), row["level"].strip().lower(), (row.get("province") or "").strip() or None)
            for row in csv.DictReader(stream)
        ]


class NipRegistry:
    """Remembers which NIPs were handed out in fixed memory (a 16 MB bitmap of their hashes).

    A hash collision only makes a free NIP look taken, which moves that person to the next serial;
    a NIP that was really handed out is always seen, so every NIP issued is unique.
    """

    BITS = 1 << 27

    def __init__(self) -> None:
        self._bits = bytearray(self.BITS // 8)

    def _slot(self, nip: str) -> int:
        # Multiplicative hashing: deterministic (unlike hash()), so a seed always gives the same file.
        return ((int(nip) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> (64 - 27)

    def claim(self, nip: str) -> bool:
        slot = self._slot(nip)
        byte, bit = divmod(slot, 8)
        if self._bits[byte] >> bit & 1:
            return False
        self._bits[byte] |= 1 << bit
        return True


def make_nip(rng: random.Random, registry: NipRegistry | None = None) -> str:
    while True:
        birth = _BIRTH_FIRST + dt.timedelta(days=rng.randrange(_BIRTH_DAYS + 1))
        start_year = min(birth.year + rng.randint(20, 35), LATEST_SERVICE_YEAR)
        start_month = rng.randint(1, 12)
        if (start_year, start_month) <= (birth.year + 18, birth.month):
            continue
        sex = "1" if rng.random() < 0.52 else "2"
        stem = f"{birth:%Y%m%d}{start_year:04d}{start_month:02d}{sex}"
        for serial in range(1, 1000):
            nip = f"{stem}{serial:03d}"
            if registry is None or registry.claim(nip):
                return nip


_GIVEN_MALE = (
    "Agus Ahmad Andi Arif Bambang Budi Dedi Eko Fajar Gede Hadi Hendra Irawan Iwan Joko Ketut Lukman Made "
    "Muhammad Nyoman Rahmat Rudi Suharto Teguh Wahyu Wayan Yohanes Yudi Yusuf Zainal"
).split()
_GIVEN_FEMALE = (
    "Ani Ayu Dewi Dian Endang Fitri Hasanah Indah Kurniawati Lestari Maria Nur Putri Ratna Ria Rina Sari Siti "
    "Sri Susanti Wulan Yanti"
).split()
_FAMILY = (
    "Pratama Saputra Wijaya Hidayat Nasution Siregar Harahap Lubis Simanjuntak Sitompul Tanjung Hasibuan "
    "Santoso Gunawan Setiawan Kusuma Permana Nugroho Rahayu Wulandari Purnomo Susilo Sembiring Ginting "
    "Manurung Pane Daulay Rangkuti Latuconsina Mandagi Wenas Tampubolon Marpaung Rahayu Lestari"
).split()
_DEGREES = ("", "", "", ", S.Pd.", ", S.E.", ", S.H.", ", S.Kom.", ", S.Kep.", ", A.Md.", ", M.Si.", ", S.Sos.")

_REGIONAL_UNITS = (
    "Dinas Pendidikan", "Dinas Kesehatan", "Rumah Sakit Umum Daerah", "Sekretariat Daerah",
    "Badan Kepegawaian dan Pengembangan Sumber Daya Manusia", "Dinas Pekerjaan Umum dan Penataan Ruang",
    "Badan Pendapatan Daerah", "Satuan Polisi Pamong Praja", "Dinas Sosial", "Inspektorat Daerah",
    "Dinas Kependudukan dan Pencatatan Sipil", "Badan Perencanaan Pembangunan Daerah", "Kecamatan",
)
_CENTRAL_UNITS = (
    "Sekretariat Jenderal", "Inspektorat Jenderal", "Biro Sumber Daya Manusia", "Direktorat Jenderal",
    "Badan Pengembangan Sumber Daya Manusia", "Kantor Wilayah", "Kantor Regional", "Pusat Data dan Informasi",
)
_POSITIONS = (
    ("Guru Ahli Pertama", 18), ("Guru Ahli Muda", 10), ("Perawat Ahli Pertama", 6), ("Bidan Terampil", 4),
    ("Dokter Ahli Pertama", 2), ("Analis Kepegawaian Ahli Pertama", 4), ("Pranata Komputer Ahli Muda", 3),
    ("Penata Layanan Operasional", 6), ("Pengadministrasi Perkantoran", 8), ("Pengelola Layanan Operasional", 6),
    ("Kepala Seksi", 3), ("Kepala Subbagian Umum dan Kepegawaian", 2), ("Auditor Ahli Muda", 2),
    ("Penyuluh Pertanian Ahli Pertama", 3), ("Analis Kebijakan Ahli Muda", 2), ("Camat", 1),
)
_PPPK_POSITIONS = (("Guru Ahli Pertama", 60), ("Perawat Terampil", 15), ("Bidan Terampil", 10),
                   ("Pengelola Layanan Operasional", 10), ("Penyuluh Pertanian Terampil", 5))


def _weighted(pairs: Sequence[tuple[str, int]]) -> tuple[list[str], list[int]]:
    names, weights = zip(*pairs, strict=True)
    cumulative, total = [], 0
    for weight in weights:
        total += weight
        cumulative.append(total)
    return list(names), cumulative


def generate_roster(count: int, agencies: Sequence[SeedAgency], *, seed: int = 2024) -> Iterator[tuple]:
    """``count`` roster rows (columns in ``ROSTER_COLUMNS`` order), the same for the same seed."""
    rng = random.Random(seed)
    registry = NipRegistry()
    central = [a for a in agencies if a.level == "central"]
    regional = [a for a in agencies if a.level != "central"]
    if not central or not regional:
        raise ValueError("the seed agencies must include central and regional ones")
    provinces = sorted({a.province for a in regional if a.province})
    positions, position_weights = _weighted(_POSITIONS)
    pppk_positions, pppk_weights = _weighted(_PPPK_POSITIONS)
    for _ in range(count):
        nip = make_nip(rng, registry)
        given = _GIVEN_MALE if nip[14] == "1" else _GIVEN_FEMALE
        name = f"{rng.choice(given)} {rng.choice(_FAMILY)}{rng.choice(_DEGREES)}"
        if rng.random() < REGIONAL_SHARE:
            agency = rng.choice(regional)
            province = agency.province
            unit = rng.choice(_REGIONAL_UNITS)
        else:
            agency = rng.choice(central)
            # Staff of central agencies sit in Jakarta or in the agency's offices across the provinces.
            province = "DKI JAKARTA" if rng.random() < 0.45 else rng.choice(provinces)
            unit = rng.choice(_CENTRAL_UNITS)
        pppk = rng.random() < PPPK_SHARE
        if pppk:
            position = rng.choices(pppk_positions, cum_weights=pppk_weights)[0]
        else:
            position = rng.choices(positions, cum_weights=position_weights)[0]
        yield nip, name, agency.code, unit, position, province, "PPPK" if pppk else "PNS"


def write_roster_csv(rows: Iterator[tuple], stream: IO[str]) -> int:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(ROSTER_COLUMNS)
    written = 0
    for row in rows:
        writer.writerow(row)
        written += 1
    return written
