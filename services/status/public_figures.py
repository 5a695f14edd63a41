"""The national figures for everyone: the same funnel every agency reads from ``/v1/stats``, with the cells
that could point at a person suppressed.

A count of one or two civil servants in a province or an agency can name them to anyone who knows the place,
so a non-zero count below the configured minimum cell size is withheld (primary suppression). A single
withheld cell in a breakdown could still be recovered as the total minus the cells shown, so whenever a
figure of a breakdown has exactly one withheld cell, the smallest shown non-zero cell of that figure is
withheld too (secondary suppression). Zero is shown: "nobody" identifies no one.
"""

from __future__ import annotations

from typing import Any

Funnel = dict[str, int]
PublicFunnel = dict[str, int | None]


def _primary(value: int, minimum: int) -> bool:
    return 0 < value < minimum


def suppress_funnel(funnel: Funnel, minimum: int) -> PublicFunnel:
    return {name: None if _primary(value, minimum) else value for name, value in funnel.items()}


def suppress_breakdown(breakdown: dict[str, Funnel], minimum: int) -> dict[str, PublicFunnel]:
    """Each figure of each key, with primary and then secondary suppression down the figure's column."""
    shown: dict[str, PublicFunnel] = {key: suppress_funnel(funnel, minimum) for key, funnel in breakdown.items()}
    figures = {name for funnel in breakdown.values() for name in funnel}
    for name in sorted(figures):
        withheld = [key for key, funnel in shown.items() if name in funnel and funnel[name] is None]
        if len(withheld) != 1:
            continue
        candidates = sorted((value, key) for key, funnel in shown.items()
                            if (value := funnel.get(name)) is not None and value > 0)
        if candidates:
            shown[candidates[0][1]][name] = None
    return shown


def public_figures(figures: dict[str, Any], minimum: int) -> dict[str, Any]:
    """``stats.funnel``'s answer, suppressed: the total and every breakdown."""
    result: dict[str, Any] = {"total": suppress_funnel(figures["total"], minimum)}
    for name, breakdown in figures.items():
        if name != "total":
            result[name] = suppress_breakdown(breakdown, minimum)
    return result


def withheld_cells(public: dict[str, Any]) -> int:
    count = sum(1 for value in public["total"].values() if value is None)
    for name, breakdown in public.items():
        if name != "total":
            count += sum(1 for funnel in breakdown.values() for value in funnel.values() if value is None)
    return count
