"""``sbt import history FILE`` and ``sbt reconcile --agency CODE FILE``: an agency's books brought into the
shared log, and the same books set beside it.

The import writes into each owning service's database for its running relay to publish (as ``sbt import``
does for reference data, services/cli/history_import.py). Reconcile reads the status service's database,
the shared log's projection (services/cli/reconcile.py).
"""

from __future__ import annotations

import asyncio
import getpass
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.cli.language import _, ngettext
from services.cli.support import CliError, friendly
from services.cli.settings import get_settings

err = Console(stderr=True)


def _print_refusals(refusals) -> None:  # noqa: ANN001 - a list of Refusal
    count = len(refusals)
    err.print("[yellow]" + ngettext("{count} row refused:", "{count} rows refused:", count).format(count=f"{count:,}")
              + "[/yellow]")
    for refusal in sorted(refusals, key=lambda r: r.line):
        err.print("  " + _("line {line}: {reason}").format(line=refusal.line, reason=refusal.reason),
                  markup=False, highlight=False)


def _read(file: Path):  # noqa: ANN202 - a Sheet
    from services.cli.history_rows import SheetError, read_sheet
    from services.cli.support import USAGE

    if file.suffix.lower() not in (".csv", ".xlsx", ".xlsm"):
        raise CliError(_("error: {file} must be a .csv or an .xlsx file").format(file=file), USAGE)
    try:
        return read_sheet(file)
    except SheetError as error:
        raise CliError(f"{file}: {error}") from None
    except UnicodeDecodeError:
        raise CliError(_("{file}: not UTF-8 text (is it the right file?)").format(file=file)) from None


def import_history(file: Path, *, by: str | None, wait: float, json_output: bool = False) -> None:
    from services.cli import history_import as history
    from shared.clock import clock_from_settings
    from shared.migrations import upgrade

    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    settings = get_settings()
    operator = by or os.environ.get("USER") or getpass.getuser()
    sheet = _read(file)
    clock = clock_from_settings(settings.clock_fixed)
    urls = {service: settings.database_url_for(service) for service in history.STAGES}
    for service, url in urls.items():
        upgrade(service, url)
    references = asyncio.run(history.load_references(urls["intake"], [row.key for row in sheet.rows]))
    refusals = [*sheet.refusals, *history.check_references(sheet, references, clock.today())]
    refusals += asyncio.run(history.check_live(urls, sheet.rows))
    if refusals:
        _print_refusals(refusals)
        err.print("[red]" + _("nothing imported: fix the rows above and run again") + "[/red]")
        raise typer.Exit(1)
    planner = history.Planner(references, by=operator, source_name=file.name)
    plans = planner.plan(sheet.rows)
    report = asyncio.run(_write_all(plans, urls, operator, settings, clock.now(), references, wait))
    staged = sum(report.values())
    total = sum(len(plan.envelopes) for plan in plans.values())
    if json_output:
        from services.cli.support import print_json

        print_json({"file": file.name, "sha256": sheet.sha256, "cases": len(sheet.rows), "imported_by": operator,
                    "events_staged": report, "events_already_there": total - staged})
    err.print(_("history: {cases} cases from {file}; {staged}; {already} events were there already (not written twice)")
              .format(cases=f"{len(sheet.rows):,}", file=file.name, already=f"{total - staged:,}",
                      staged=", ".join(_("{service} {count} events").format(service=service, count=f"{count:,}")
                                       for service, count in report.items())))


async def _write_all(plans, urls, operator, settings, now, references, wait) -> dict[str, int]:  # noqa: ANN001
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from services.cli import history_import as history

    staged: dict[str, int] = {}
    with Progress(TextColumn("[bold]{task.description:>15}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn(_("events published")), console=err) as progress:
        for service in history.STAGES:
            plan = plans[service]
            if not plan.envelopes:
                staged[service] = 0
                continue
            task = progress.add_task(service, total=len(plan.envelopes))
            staged[service], ids = await history.write_stage(urls[service], plan, by=operator, settings=settings,
                                                             clock_now=now, references=references)
            try:
                await history.wait_published(urls[service], service, ids, timeout=wait,
                                             progress=lambda done, task=task: progress.update(task, completed=done))
            except history.NotPublished as late:
                raise CliError(str(late)) from None
    return staged


@friendly
def reconcile_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the agency's .csv or .xlsx")],
    agency: Annotated[str, typer.Option(help="the agency whose books these are")],
    out: Annotated[Path | None, typer.Option(dir_okay=False, help="also write the differences and totals as XLSX")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="the differences and totals as JSON")] = False,
) -> None:
    """Set an agency's spreadsheet beside the shared log, case by case: cases only in one of them, stages and
    dates that differ, and the totals each would publish. Exits 0 when they match, 1 when they differ."""
    from services.cli import reconcile
    from services.cli.support import print_json

    sheet = _read(file)
    code = agency.upper()
    if sheet.refusals:
        _print_refusals(sheet.refusals)
        raise CliError(_("not reconciled: fix the rows above and run again"))
    rows = [row for row in sheet.rows if row.agency == code]  # a shared workbook's other agencies stay out
    if len(rows) < len(sheet.rows):
        err.print(_("{count} row(s) of other agencies left out").format(count=f"{len(sheet.rows) - len(rows):,}"))
    url = get_settings().database_url_for("status")
    result = asyncio.run(reconcile.compare(url, code, rows))
    if json_output:
        print_json(result.as_json())
    else:
        reconcile.print_result(Console(), result, code)
    if out is not None:
        reconcile.write_xlsx(out, result)
        err.print(_("written: {path}").format(path=out))
    raise typer.Exit(0 if result.matches else 1)
