"""``sbt import`` and ``sbt seed``: the command-line side of intake's reference data.

Heavy imports stay inside the commands so that ``sbt --help`` stays quick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.cli.support import friendly, usage
from services.cli.settings import get_settings

DEFAULT_SEED_AGENCIES = Path("deploy/seed/agencies.csv")

seed_app = typer.Typer(help="Generate realistic demo data.", no_args_is_help=True)


@friendly
def import_command(
    kind: Annotated[str, typer.Argument(help="roster | agencies | elections | violations | history")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help=".csv (with a header row), .json (an array) or .jsonl")],
    batch_size: Annotated[int, typer.Option(min=100, max=100_000, help="roster rows per transaction")] = 5000,
    by: Annotated[str | None, typer.Option(help="history: the operator named on every imported event ($USER)")] = None,
    wait: Annotated[float, typer.Option(min=1, help="history: seconds to wait for each service to publish")] = 120,
    json_output: Annotated[bool, typer.Option("--json", help="history: what was imported, as JSON on stdout")] = False,
) -> None:
    """Load reference data into intake's database (migrating it first). Agencies, elections and violations
    are published as events by the running intake; the roster is not published. ``history`` brings an
    agency's past cases in (.csv or .xlsx; see services/cli/history_rows.py), each stage through the running
    service that owns it. Exits 1 when any row is refused (each named with its line and reason): a reference
    file or a history is then not imported at all, a roster keeps its valid rows."""
    import asyncio

    if kind == "history":
        from services.cli.history import import_history

        import_history(file, by=by, wait=wait, json_output=json_output)
        return

    from rich.console import Console

    from services.intake.reference.importer import ImportRejected
    from services.intake.reference.records import KINDS, FileFormatError
    from shared.migrations import upgrade

    console = Console(stderr=True)
    # One "event staged" line per agency is noise here; the summary below says how many were staged.
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if kind not in KINDS:
        raise usage(f"KIND must be one of {', '.join([*KINDS, 'history'])}, got {kind!r}")
    settings = get_settings()
    url = settings.database_url_for("intake")
    upgrade("intake", url)
    try:
        if kind == "roster":
            rejected = asyncio.run(_import_roster(console, url, file, batch_size))
            if rejected:
                console.print(f"[red]{rejected:,} row(s) refused; the valid rows were imported[/red]")
                raise typer.Exit(1)
        else:
            asyncio.run(_import_reference(console, url, kind, file, settings))
    except FileFormatError as error:
        console.print(f"[red]{file}: {error}[/red]")
        raise typer.Exit(1) from None
    except UnicodeDecodeError:
        console.print(f"[red]{file}: not UTF-8 text (is it the right file?)[/red]")
        raise typer.Exit(1) from None
    except ImportRejected as error:
        _print_rejections(console, error.rejected)
        console.print("[red]nothing imported: fix the rows above and run again[/red]")
        raise typer.Exit(1) from None


async def _import_roster(console, url: str, path: Path, batch_size: int) -> int:  # noqa: ANN001
    """Imports the valid rows; returns how many rows were refused."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from services.intake.reference.importer import import_roster

    columns = (
        TextColumn("[bold]roster"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[rows]:>12,} rows"),
        TextColumn("{task.fields[rate]:>9,.0f} rows/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("roster", total=max(path.stat().st_size, 1), rows=0, rate=0.0)

        def show(report) -> None:  # noqa: ANN001
            progress.update(task, completed=report.bytes_read, rows=report.rows_read, rate=report.rows_per_second)

        report = await import_roster(url, path, batch_size=batch_size, progress=show)
        show(report)
    console.print(
        f"roster: {report.rows_read:,} rows read in {report.seconds:.1f} s ({report.rows_per_second:,.0f} rows/s); "
        f"{report.imported:,} imported, {report.written:,} new or changed, "
        f"{report.imported - report.written:,} unchanged, {report.duplicates:,} repeated NIPs (last row kept), "
        f"{report.rejected.count:,} rejected"
    )
    if report.rejected.count:
        _print_rejections(console, report.rejected)
    return report.rejected.count


async def _import_reference(console, url: str, kind: str, path: Path, settings) -> None:  # noqa: ANN001
    from services.intake.reference.importer import import_reference
    from shared.clock import clock_from_settings

    report = await import_reference(url, kind, path, clock=clock_from_settings(settings.clock_fixed))
    console.print(
        f"{kind}: {report.rows} rows; {report.new} new, {report.changed} changed, {report.unchanged} unchanged; "
        f"{report.events_staged} events staged for the intake relay"
    )


def _print_rejections(console, rejected) -> None:  # noqa: ANN001
    by_field = ", ".join(f"{field}: {count:,}" for field, count in sorted(rejected.by_field.items()))
    console.print(f"[yellow]{rejected.count:,} invalid row(s) not imported ({by_field}):[/yellow]")
    for line, field, reason in rejected.examples:
        console.print(f"  line {line}: {field}: {reason}", markup=False, highlight=False)
    if rejected.count > len(rejected.examples):
        console.print(f"  ... and {rejected.count - len(rejected.examples):,} more")


@seed_app.command("roster")
def seed_roster(
    rows: Annotated[int, typer.Option(min=1, max=10_000_000, help="how many civil servants")],
    out: Annotated[Path, typer.Option(dir_okay=False, help="the CSV file to write")],
    seed: Annotated[int, typer.Option(help="the same seed gives the same file")] = 2024,
    agencies: Annotated[Path, typer.Option(exists=True, dir_okay=False,
                                           help="agencies CSV to spread the roster over")] = DEFAULT_SEED_AGENCIES,
) -> None:
    """Write a realistic roster CSV with valid, unique NIPs, ready for ``sbt import roster``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from services.intake.reference.generator import generate_roster, load_agencies, write_roster_csv

    console = Console(stderr=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    generated = generate_roster(rows, load_agencies(agencies), seed=seed)
    with Progress(TextColumn("[bold]seed"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as progress:
        task = progress.add_task("seed", total=rows)

        def counted():  # noqa: ANN202
            for number, row in enumerate(generated, start=1):
                if number % 10_000 == 0:
                    progress.update(task, completed=number)
                yield row

        with out.open("w", encoding="utf-8", newline="") as stream:
            written = write_roster_csv(counted(), stream)
        progress.update(task, completed=written)
    console.print(f"{out}: {written:,} civil servants")
