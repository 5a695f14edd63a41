"""``sbt demo`` against the five services running as real processes: the scenario goes through every
public API, and the status service's figures settle to exactly what the scenario did."""

from __future__ import annotations

import pytest

from services.cli.demo import play

pytestmark = pytest.mark.e2e


async def test_the_demo_plays_a_scenario_and_the_figures_match_it(make_system):
    system = await make_system("intake", "recommendation", "sanction", "blocking", "status",
                               extra_env={"SBT_ESCALATION_THRESHOLD": "2"})
    urls = {name: process.url for name, process in system.services.items()}
    lines: list[str] = []
    tally, figures, agreed = await play(system.settings, urls, cases=40, seed=7, say=lines.append, timeout=30)

    assert agreed, "\n".join(lines)
    counts = tally.counts
    assert counts["cases"] == 40 and tally.reports > 40  # some cases got a second report
    assert counts["proven"] > 0 and counts["on_time"] > 0 and counts["overdue"] > 0
    total = figures["total"]
    assert total["reported"] == 40 and total["followed_up"] == counts["on_time"] + counts["late"]
    assert total["blocked"] == counts["overdue"] - counts["late"] and total["unblocked"] == counts["late"]
    assert sum(f["reported"] for f in figures["by_province"].values()) == 40
    assert tally.manual_blocks == 1
    # Agencies left with two or more overdue cases were escalated, once each.
    assert tally.escalations == await system.scalar("blocking", "SELECT count(DISTINCT agency_code) FROM escalations")
    assert tally.escalations == await system.scalar("blocking", "SELECT count(*) FROM escalations")
