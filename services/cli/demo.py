"""``sbt demo``: a realistic national scenario played through the public REST APIs of running services.

Hundreds of reports over the provinces and agencies of the sample roster, with the Pemilu 2019 mix of
violation types; the task force verifies them, the examining authority examines them, PPKs follow some
up, and two deadline sweeps (an early warning, then a later date) make the rest overdue; BKN's blocker
blocks them from its worklist (or the blocking service at once, under SBT_BLOCKING_POLICY=automatic) and the
agencies that leave too many are escalated. A few PPKs then act late and the blocks lift.

Everything goes through the services' REST APIs with development tokens, so the scenario exercises the
same paths as real clients, and the figures it prints come from the status service, compared with what
the scenario did.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.auth import mint_token
from shared.clock import JAKARTA
from shared.settings import SERVICE_PORTS
from services.cli.settings import SystemSettings

SEED_DIR = Path(__file__).resolve().parents[2] / "deploy" / "seed"

# The observed mix of Pemilu 2019 (social-media support 40, favouring actions 27, attending campaigns 23,
# attributes 16, party membership 14, other events 10, running without resigning 2, campaign team 1),
# spread over the catalogue codes of each kind.
VIOLATION_MIX: tuple[tuple[str, int], ...] = (
    ("ETIK-MEDSOS", 28), ("ETIK-MEDSOS-INTERAKSI", 12),
    ("DISIPLIN-KEPUTUSAN", 27),
    ("ETIK-HADIR-KAMPANYE", 15), ("DISIPLIN-KAMPANYE", 8),
    ("ETIK-ATRIBUT", 8), ("DISIPLIN-ATRIBUT", 8),
    ("DISIPLIN-PARPOL", 14),
    ("DISIPLIN-KEGIATAN-KEBERPIHAKAN", 10),
    ("DISIPLIN-CALON-TANPA-MUNDUR", 2),
    ("DISIPLIN-TIM-KAMPANYE", 1),
)

DESCRIPTIONS = {
    "ETIK-MEDSOS": "Mengunggah foto dan visi misi pasangan calon di media sosial pribadi.",
    "ETIK-MEDSOS-INTERAKSI": "Menyukai dan membagikan konten kampanye akun resmi pasangan calon.",
    "DISIPLIN-KEPUTUSAN": "Menerbitkan kebijakan bantuan yang menguntungkan salah satu pasangan calon.",
    "ETIK-HADIR-KAMPANYE": "Menghadiri deklarasi pasangan calon pada jam kerja.",
    "DISIPLIN-KAMPANYE": "Ikut kampanye terbuka pasangan calon.",
    "ETIK-ATRIBUT": "Memasang spanduk pasangan calon di halaman rumah dinas.",
    "DISIPLIN-ATRIBUT": "Menjadi peserta kampanye dengan seragam dan atribut PNS.",
    "DISIPLIN-PARPOL": "Tercatat sebagai anggota dan pengurus partai politik.",
    "DISIPLIN-KEGIATAN-KEBERPIHAKAN": "Mengadakan pertemuan dan membagikan barang dengan ajakan memilih calon.",
    "DISIPLIN-CALON-TANPA-MUNDUR": "Mendaftar sebagai calon tanpa mengundurkan diri sebagai ASN.",
    "DISIPLIN-TIM-KAMPANYE": "Terdaftar sebagai anggota tim kampanye pasangan calon.",
}

# Campaign periods in which the reported acts happened.
ELECTIONS: dict[str, tuple[dt.date, dt.date]] = {
    "PEMILU-2024": (dt.date(2023, 11, 28), dt.date(2024, 2, 10)),
    "PILKADA-2024": (dt.date(2024, 9, 25), dt.date(2024, 11, 23)),
}

# Shares of each outcome; the rest of each step goes on.
VERIFICATION = {"rejected": 0.08, "cancelled": 0.04, "out_of_service": 0.05}
NOT_PROVEN = 0.15
FOLLOWED_UP_ON_TIME = 0.55
LIGHTER_WITH_REASON = 0.15  # of the follow-ups
FOLLOWED_UP_LATE = 0.25  # of the cases that went overdue
SECOND_REPORT = 0.10  # another report on the same acts, attached to the same case

CATEGORY_LEVELS = {"ethics": ("moral_closed", "moral_open"),
                   "discipline": ("light", "moderate", "severe", "dishonourable_dismissal")}


@dataclass(frozen=True)
class Person:
    nip: str
    agency_code: str
    province: str


@dataclass(frozen=True)
class Violation:
    code: str
    category: str
    legal_basis: str
    default_sanction: str


@dataclass
class CasePlan:
    person: Person
    election: str
    violation: Violation
    incident_date: dt.date
    reporter: str  # bawaslu | satgas
    second_report: bool
    verification: str  # accepted | rejected | cancelled | out_of_service
    proven: bool
    followup: str | None  # on_time | late | pending (recommended last, within its deadline) | None (stays overdue)
    lighter: bool
    case_id: str | None = None


@dataclass
class Tally:
    """What the scenario did, counted by case, to compare with the status service's figures."""

    reports: int = 0
    counts: Counter = field(default_factory=Counter)
    escalations: int = 0
    manual_blocks: int = 0
    seconds: float = 0.0

    def expected_figures(self, baseline: dict[str, int] | None = None) -> dict[str, int]:
        """The funnel after this run: what the system held before it (``baseline``) plus what it did."""
        c = self.counts
        followed_up = c["on_time"] + c["late"]
        did = {
            "reported": c["cases"], "verified": c["accepted"], "proven": c["proven"], "recommended": c["proven"],
            "followed_up": followed_up, "overdue": c["overdue"] - c["late"], "blocked": c["overdue"] - c["late"],
            "unblocked": c["late"], "ever_blocked": c["overdue"], "unblocked_after_followup": c["late"], "awaiting_ppk": c["proven"] - followed_up, "rejected": c["rejected"],
            "not_proven": c["not_proven"], "cancelled": c["cancelled"], "out_of_service": c["out_of_service"],
        }
        return {name: (baseline or {}).get(name, 0) + value for name, value in did.items()}


def load_roster(path: Path = SEED_DIR / "roster-sample.csv") -> list[Person]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [Person(row["nip"], row["agency_code"], row["province"]) for row in csv.DictReader(handle)
                if row.get("employment_type", "PNS") == "PNS" and row["agency_code"] and row["province"]]


def load_catalogue(path: Path = SEED_DIR / "violations.csv") -> dict[str, Violation]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["code"]: Violation(row["code"], row["category"], row["legal_basis"], row["default_sanction"])
                for row in csv.DictReader(handle)}


def plan(rng: random.Random, roster: list[Person], catalogue: dict[str, Violation], cases: int) -> list[CasePlan]:
    """The scenario, decided up front from the seed: who is reported for what, and how each case ends."""
    if not roster:
        raise ValueError("the roster is empty")
    people = rng.sample(roster, min(cases, len(roster)))
    while len(people) < cases:  # more cases than the sample roster: stand-ins in the same agencies and provinces
        model = rng.choice(roster)
        people.append(Person(synthetic_nip(rng), model.agency_code, model.province))
    codes = [code for code, _ in VIOLATION_MIX]
    weights = [weight for _, weight in VIOLATION_MIX]
    plans = []
    for person in people:
        election = rng.choice(sorted(ELECTIONS))
        start, end = ELECTIONS[election]
        draw = rng.random()
        verification, edge = "accepted", 0.0
        for outcome, share in VERIFICATION.items():
            edge += share
            if draw < edge:
                verification = outcome
                break
        proven = verification == "accepted" and rng.random() >= NOT_PROVEN
        followup = None
        if proven:
            followup = "on_time" if rng.random() < FOLLOWED_UP_ON_TIME else (
                "late" if rng.random() < FOLLOWED_UP_LATE else None)
        plans.append(CasePlan(
            person=person, election=election, violation=catalogue[rng.choices(codes, weights)[0]],
            incident_date=start + dt.timedelta(days=rng.randrange((end - start).days + 1)),
            reporter=rng.choices(["bawaslu", "satgas"], [3, 1])[0], second_report=rng.random() < SECOND_REPORT,
            verification=verification, proven=proven, followup=followup,
            lighter=followup is not None and rng.random() < LIGHTER_WITH_REASON,
        ))
    _leave_pending(plans, roster)
    return plans


# A few cases of these agencies are recommended last, after the sweeps, so they await their PPK within the
# deadline when the demo ends: a PPK who signs in for one of them (the README's example account is the
# Governor of West Java's) finds work waiting, not only overdue cases. Only in runs of this many cases or more.
PENDING_AGENCIES: tuple[tuple[str, int], ...] = (("PEMPROV-JABAR", 2),)
PENDING_FROM_CASES = 20


def _leave_pending(plans: list[CasePlan], roster: list[Person]) -> None:
    if len(plans) < PENDING_FROM_CASES:
        return
    chosen = {p.person.nip for p in plans}
    slot = len(plans)
    for agency, count in PENDING_AGENCIES:
        own = [p for p in plans if p.person.agency_code == agency]
        others = [p for p in roster if p.agency_code == agency and p.nip not in chosen]
        for _ in range(count):
            if own:  # a case of the agency already in the plan becomes one of them
                case = own.pop()
            elif others:  # else the last case of the plan is about one of the agency's civil servants
                slot -= 1
                case = plans[slot]
                case.person = others.pop()
            else:
                return
            case.verification, case.proven, case.followup, case.lighter = "accepted", True, "pending", False


def synthetic_nip(rng: random.Random) -> str:
    """A valid PNS NIP (birth date, start of service, sex digit, serial) for a stand-in civil servant."""
    birth = dt.date(1968, 1, 1) + dt.timedelta(days=rng.randrange(0, 11000))
    start_year = min(birth.year + rng.randrange(21, 30), 2023)
    return f"{birth:%Y%m%d}{start_year:04d}{rng.randrange(1, 13):02d}{rng.choice('12')}{rng.randrange(1, 1000):03d}"


def lighter_level(category: str, level: str) -> str | None:
    """The next lighter sanction of the same category, if any."""
    levels = CATEGORY_LEVELS[category]
    index = levels.index(level) if level in levels else 0
    return levels[index - 1] if index > 0 else None


class DemoError(RuntimeError):
    pass


class Scenario:
    def __init__(self, settings: SystemSettings, urls: dict[str, str], *, concurrency: int = 16,
                 say: Callable[[str], None] = print, timeout: float = 60.0,
                 step: Callable[[str, int, int], None] | None = None) -> None:
        self.settings = settings
        self.urls = urls
        self.say = say
        self.step = step  # (what, done, of how many): the progress of the step under way
        self.timeout = timeout
        self.gate = asyncio.Semaphore(concurrency)
        self.tokens: dict[tuple, str] = {}
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.tally = Tally()
        self.baseline: dict[str, int] = {}
        self.spare: list[Person] = []
        self.rng = random.Random()

    async def unreported(self, person: Person) -> Person:
        """The person, or a stand-in from the same agency and province when an earlier run already reported
        them (a NIP has one open case per election, so reusing it would merge the cases)."""
        observer = self.token("KEMENPANRB", "observer")
        while True:
            status = await self.call("status", "GET", f"/v1/asn/{person.nip}/status", observer)
            if not status["cases"]:
                return person
            person = self.spare.pop() if self.spare else Person(
                synthetic_nip(self.rng), person.agency_code, person.province)

    def token(self, agency: str, role: str, ppk_agency: str | None = None) -> str:
        key = (agency, role, ppk_agency)
        if key not in self.tokens:
            self.tokens[key] = mint_token(self.settings, agency=agency, roles=[role], ppk_agency=ppk_agency,
                                          client_id=f"demo-{agency.lower()}-{role}", ttl_seconds=3600)
        return self.tokens[key]

    async def call(self, service: str, method: str, path: str, token: str, body: dict | None = None,
                   *, expect: int = 200, also: tuple[int, ...] = (), wait_for_404: bool = False) -> dict:
        """One request; a 404 while another service has not yet learned of the case is retried until the
        event arrives (the services talk only through events, so the scenario waits like a real client), and
        a 429 after the Retry-After it names."""
        deadline = time.monotonic() + self.timeout
        pause = 0.05
        while True:
            async with self.gate:
                response = await self.clients[service].request(
                    method, path, json=body, headers={"Authorization": f"Bearer {token}"})
            if response.status_code == expect or response.status_code in also:
                return response.json()
            if response.status_code == 404 and wait_for_404 and time.monotonic() < deadline:
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.5)
                continue
            if response.status_code == 429 and time.monotonic() < deadline:
                # The service's write budget per client is spent: wait as it says, like any good client.
                await asyncio.sleep(min(float(response.headers.get("retry-after", "1") or 1), 5.0))
                continue
            raise DemoError(f"{method} {service}{path}: {response.status_code} {response.text[:500]}")

    async def each(self, items: list, step: Callable[[object], Awaitable[None]]) -> None:
        what, total, done = step.__name__, len(items), 0

        async def counted(item: object) -> None:
            nonlocal done
            await step(item)
            done += 1
            if self.step:
                self.step(what, done, total)

        if self.step:
            self.step(what, 0, total)
        await asyncio.gather(*(counted(item) for item in items))

    # --- the steps -------------------------------------------------------------------------------------

    async def report(self, case: CasePlan) -> None:
        case.person = await self.unreported(case.person)
        reporter_agency = "BAWASLU" if case.reporter == "bawaslu" else "KEMENPANRB"
        body = {
            "nip": case.person.nip, "agency_code": case.person.agency_code, "election_code": case.election,
            "violation_codes": [case.violation.code], "incident_date": case.incident_date.isoformat(),
            "incident_place": case.person.province.title(), "province": case.person.province,
            "description": DESCRIPTIONS.get(case.violation.code, case.violation.code),
            "evidence_urls": [f"https://bukti.example.org/{case.person.nip}/1.jpg"],
            "reporter": {"category": case.reporter},
        }
        token = self.token(reporter_agency, "reporter")
        accepted = await self.call("intake", "POST", "/v1/reports", token, body, expect=201)
        case.case_id = accepted["case_id"]
        self.tally.reports += 1
        if case.second_report:
            again = {**body, "evidence_urls": [f"https://bukti.example.org/{case.person.nip}/2.jpg"]}
            await self.call("intake", "POST", "/v1/reports", self.token("BAWASLU", "reporter"), again, expect=201)
            self.tally.reports += 1

    async def verify(self, case: CasePlan) -> None:
        reasons = {"accepted": "Bukti awal cukup; diteruskan untuk pemeriksaan.",
                   "rejected": "Tidak memenuhi syarat formal dan materiel.",
                   "cancelled": "Pelapor mencabut laporan; tidak ada temuan lain.",
                   "out_of_service": "Yang bersangkutan telah pensiun sebelum laporan diterima."}
        await self.call("recommendation", "POST", f"/v1/cases/{case.case_id}/verification",
                        self.token("BAWASLU", "verifier"),
                        {"outcome": case.verification, "reason": reasons[case.verification]},
                        expect=201, wait_for_404=True)

    async def examine(self, case: CasePlan) -> None:
        if case.proven:
            # Presumption of innocence: the civil servant is heard before a proven finding.
            await self.call("recommendation", "POST", f"/v1/cases/{case.case_id}/clarification",
                            self.token("BKN", "examiner"),
                            {"outcome": "given", "summary": "Mengakui unggahan; menyatakan tidak bermaksud berkampanye."},
                            expect=201, wait_for_404=True)
            body = {"outcome": "proven", "category": case.violation.category,
                    "sanction_level": case.violation.default_sanction, "legal_basis": case.violation.legal_basis,
                    "reason": "Terbukti berdasarkan klarifikasi dan bukti foto."}
        else:
            body = {"outcome": "not_proven", "reason": "Bukti tidak menunjukkan keberpihakan."}
        await self.call("recommendation", "POST", f"/v1/cases/{case.case_id}/examination",
                        self.token("BKN", "examiner"), body, expect=201, wait_for_404=True)

    async def follow_up(self, case: CasePlan) -> None:
        level = case.violation.default_sanction
        body: dict = {"decree_number": f"800/{case.case_id[-5:]}/BKD/{self.today.year}",
                      "decree_date": self.today.isoformat(), "effective_from": self.today.isoformat()}
        lighter = lighter_level(case.violation.category, level) if case.lighter else None
        if lighter:
            body.update(sanction_level=lighter, reason="Pertimbangan masa kerja dan pengakuan yang bersangkutan.")
            self.tally.counts["lighter"] += 1
        else:
            body["sanction_level"] = level
        agency = case.person.agency_code
        await self.call("sanction", "POST", f"/v1/cases/{case.case_id}/followup",
                        self.token(agency, "ppk", ppk_agency=agency), body, expect=201, wait_for_404=True)

    async def sweep(self, as_of: dt.date) -> dict:
        return await self.call("sanction", "POST", "/v1/sweeps", self.token("BKN", "admin"),
                               {"as_of": as_of.isoformat()})

    async def decide_blocks(self, overdue: int) -> int | None:
        """BKN's blocker works through its worklist (SBT_BLOCKING_POLICY=decision) and, in this scenario, blocks
        every overdue case, with a reason; how many it blocked, or None when the blocking service had blocked
        them at once (automatic)."""
        blocker, observer = self.token("BKN", "blocker"), self.token("KEMENPANRB", "observer")
        deadline = time.monotonic() + self.timeout
        decided = 0
        while time.monotonic() < deadline:
            waiting = await self.call("blocking", "GET", "/v1/blocking/worklist?limit=500", blocker)
            for item in waiting["items"]:
                await self.call("blocking", "POST", f"/v1/cases/{item['case_id']}/blocking-decision", blocker,
                                {"decision": "block", "reason": f"PPK tidak menindaklanjuti rekomendasi sampai "
                                 f"batas waktu {item['due_date']}."}, expect=201, also=(409,))
                decided += 1
            if decided >= overdue:
                return decided
            if not waiting["items"]:
                blocked = (await self.call("status", "GET", "/v1/stats", observer))["total"]["blocked"]
                if blocked >= self.baseline.get("blocked", 0) + overdue and not decided:
                    return None
                await asyncio.sleep(0.25)
        raise DemoError(f"only {decided} of {overdue} overdue cases reached BKN's blocking worklist in time")

    async def wait_for_figures(self, expected: dict[str, int]) -> dict:
        deadline = time.monotonic() + self.timeout * 2
        figures: dict = {}
        while time.monotonic() < deadline:
            figures = await self.call("status", "GET", "/v1/stats", self.token("KEMENPANRB", "observer"))
            if all(figures["total"].get(name) == value for name, value in expected.items()):
                return figures
            await asyncio.sleep(0.25)
        return figures

    async def run(self, plans: list[CasePlan], *, spare: list[Person] = (), sweep_days: int = 40) -> tuple[Tally, dict]:
        started = time.monotonic()
        self.today = dt.datetime.now(JAKARTA).date()
        self.spare = list(spare)
        self.clients = {name: httpx.AsyncClient(base_url=url, timeout=30) for name, url in self.urls.items()}
        try:
            before = await self.call("status", "GET", "/v1/stats", self.token("KEMENPANRB", "observer"))
            self.baseline = before["total"]
            await self._play(plans, sweep_days)
            expected = self.tally.expected_figures(self.baseline)
            figures = await self.wait_for_figures(expected)
            escalations = await self.call("blocking", "GET", "/v1/escalations?limit=1000",
                                          self.token("BKN", "observer"))
            self.tally.escalations = len(escalations["escalations"])
        finally:
            for client in self.clients.values():
                await client.aclose()
        self.tally.seconds = time.monotonic() - started
        return self.tally, figures

    async def _play(self, plans: list[CasePlan], sweep_days: int) -> None:
        counts = self.tally.counts
        await self.each(plans, self.report)
        counts["cases"] = len(plans)
        self.say(f"reported: {len(plans)} cases ({self.tally.reports} reports)")

        await self.each(plans, self.verify)
        counts.update(p.verification for p in plans)
        accepted = [p for p in plans if p.verification == "accepted"]
        self.say(f"verified: {len(accepted)} accepted, {counts['rejected']} rejected, {counts['cancelled']} "
                 f"cancelled, {counts['out_of_service']} out of service")

        await self.each([p for p in accepted if p.followup != "pending"], self.examine)
        proven = [p for p in accepted if p.proven]
        counts["proven"], counts["not_proven"] = len(proven), len(accepted) - len(proven)
        self.say(f"examined: {len(proven)} proven and recommended to their PPK, {counts['not_proven']} not proven")

        on_time = [p for p in proven if p.followup == "on_time"]
        await self.each(on_time, self.follow_up)
        counts["on_time"] = len(on_time)
        self.say(f"followed up in time: {len(on_time)} ({counts['lighter']} lighter than recommended, with reason)")

        warned = await self.sweep(self.today + dt.timedelta(days=12))
        overdue = await self.sweep(self.today + dt.timedelta(days=sweep_days))
        counts["overdue"] = len(overdue["overdue"])
        self.say(f"sweeps: {len(warned['warnings'])} early warnings, then {counts['overdue']} overdue as of "
                 f"{overdue['as_of']}")
        decided = await self.decide_blocks(counts["overdue"])
        self.say(f"BKN's blocking decisions: {decided} blocked from its worklist" if decided is not None else
                 "blocked at once by the blocking service (SBT_BLOCKING_POLICY=automatic)")

        late = [p for p in proven if p.followup == "late"]
        await self.each(late, self.follow_up)
        counts["late"] = len(late)
        self.say(f"followed up late: {len(late)} (their blocks are lifted)")

        pending = [p for p in plans if p.followup == "pending"]
        await self.each(pending, self.examine)
        if pending:
            self.say(f"recommended last: {len(pending)}, awaiting their PPK within the deadline "
                     f"({', '.join(sorted({p.person.agency_code for p in pending}))})")

        spare = next((p.person for p in plans if p.verification == "rejected"), plans[0].person)
        placed = await self.call("blocking", "POST", f"/v1/personnel/{spare.nip}/block", self.token("BKN", "blocker"),
                                 {"reason": "Pemblokiran manual: data kepegawaian dalam pemeriksaan BKN."},
                                 expect=201, also=(409,))
        self.tally.manual_blocks = int("block_id" in placed)


def default_urls(host: str = "127.0.0.1", port_offset: int = 0) -> dict[str, str]:
    return {name: f"http://{host}:{port + port_offset}" for name, port in SERVICE_PORTS.items()}


def render(tally: Tally, figures: dict, baseline: dict[str, int], say: Callable[[str], None] = print) -> bool:
    """Prints the status service's funnel beside what it should be after the scenario; True when they agree."""
    expected = tally.expected_figures(baseline)
    total = figures.get("total", {})
    say("")
    say(f"{'figure':<16}{'status says':>12}{'expected':>10}")
    for name, value in expected.items():
        mark = "" if total.get(name) == value else "   <- differs"
        say(f"{name:<16}{total.get(name, '-')!s:>12}{value:>10}{mark}")
    provinces = list(figures.get("by_province", {}).items())[:5]
    if provinces:
        say("busiest provinces: " + ", ".join(f"{name} {f['reported']}" for name, f in provinces))
    say(f"escalations to the President: {tally.escalations}; manual blocks: {tally.manual_blocks}; "
        f"{tally.reports} reports in {tally.seconds:.1f} s")
    return all(total.get(name) == value for name, value in expected.items())


async def play(settings: SystemSettings, urls: dict[str, str], *, cases: int = 300, seed: int = 2019,
               concurrency: int = 16, sweep_days: int = 40, say: Callable[[str], None] = print,
               timeout: float = 60.0, step: Callable[[str, int, int], None] | None = None) -> tuple[Tally, dict, bool]:
    rng = random.Random(seed)
    roster = load_roster()
    plans = plan(rng, roster, load_catalogue(), cases)
    chosen = {p.person.nip for p in plans}
    spare = [person for person in roster if person.nip not in chosen]
    rng.shuffle(spare)
    scenario = Scenario(settings, urls, concurrency=concurrency, say=say, timeout=timeout, step=step)
    tally, figures = await scenario.run(plans, spare=spare, sweep_days=sweep_days)
    return tally, figures, render(tally, figures, scenario.baseline, say)
