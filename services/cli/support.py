"""What every ``sbt`` command shares: where the services and the bus are (the way ``make run`` starts them),
exit codes that mean something, one-line errors, and output for people (tables, progress) or scripts
(``--json``).

Exit codes: 0 all done; 1 something was refused or could not be reached; 2 the command was used wrongly.
A user's mistake (a bad option, a file that is not there, a service that is not running) is one line on
stderr, never a traceback: a traceback is kept for what is a bug.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import typer
from rich.console import Console

from shared.settings import SERVICE_PORTS
from services.cli.settings import SystemSettings, get_settings

OK, REFUSED, USAGE = 0, 1, 2

F = TypeVar("F", bound=Callable[..., Any])

# Progress and tables go to stderr when stdout is for a script; people see both on a terminal.
err_console = Console(stderr=True)


class CliError(Exception):
    """Ends a command with one line on stderr and an exit code."""

    def __init__(self, message: str, code: int = REFUSED) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = REFUSED) -> typer.Exit:
    """Print ``message`` as the one line of an error and return the Exit to raise."""
    typer.echo(message, err=True)
    return typer.Exit(code)


def usage(message: str) -> typer.Exit:
    return fail(f"error: {message}", USAGE)


# --- where things are ------------------------------------------------------------------------------------

def service_url(service: str, url: str | None = None, settings: SystemSettings | None = None) -> str:
    """``url`` if given, else SBT_<SERVICE>_URL, else the service's own port (SERVICE_PORTS plus
    SBT_PORT_OFFSET) on SBT_HOST, as ``make run`` starts it."""
    if service not in SERVICE_PORTS:
        raise CliError(f"error: unknown service {service!r}; known: {', '.join(SERVICE_PORTS)}", USAGE)
    if url:
        return url.rstrip("/")
    settings = settings or get_settings()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104 - a bind-all address
    return os.environ.get(f"SBT_{service.upper()}_URL") or f"http://{host}:{settings.service_port(service)}"


def _service_at(url: str) -> str:
    """The service a URL points at, named from its port when it is one of ours."""
    import httpx

    try:
        port = httpx.URL(url).port
    except Exception:  # noqa: BLE001 - only for the wording of a message
        return "the service"
    settings = get_settings()
    for name in SERVICE_PORTS:
        if settings.service_port(name) == port:
            return f"the {name} service"
    return "the service"


async def connect_ops(settings: SystemSettings | None = None, user: str | None = None):  # noqa: ANN201 - a nats Client
    """A NATS connection as the operator (the embedded server's ``ops`` login that ``make run`` writes, or
    SBT_NATS_USER/SBT_NATS_PASSWORD), which gives up after a few seconds with the server's own reason rather
    than retrying for minutes."""
    import nats

    from shared.nats_login import connect_options
    from shared.nats_permissions import OPS_USER

    settings = settings or get_settings()
    options = connect_options(settings, user or OPS_USER)
    errors: list[BaseException] = []

    async def remember(error: BaseException) -> None:  # nats-py would log each attempt's error otherwise
        errors.append(error)

    try:
        return await nats.connect(**options, connect_timeout=5, max_reconnect_attempts=2,
                                  reconnect_time_wait=0.5, error_cb=remember)
    except Exception as error:  # noqa: BLE001 - every way of not getting in ends the same way
        reason = errors[-1] if errors else error
        raise CliError(f"cannot reach NATS at {settings.nats_url} as {options.get('user', 'an anonymous client')}: "
                       f"{_reason(reason)}") from None


def _reason(error: BaseException) -> str:
    text = str(error).strip().strip("'\"") or type(error).__name__
    lowered = text.lower()
    if "authorization" in lowered:
        return "authorization violation (wrong or missing login)"
    if isinstance(error, ConnectionRefusedError) or "connection refused" in lowered or "connect call failed" in lowered:
        return "connection refused"
    return text


# --- errors ------------------------------------------------------------------------------------------------

def friendly(command: F) -> F:
    """Turns the errors a user can cause or fix into one line and an exit code (see the module docstring)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import httpx
        from pydantic import ValidationError
        from sqlalchemy.exc import OperationalError

        try:
            return command(*args, **kwargs)
        except CliError as error:
            raise fail(str(error), error.code) from None
        except ValidationError as error:  # a setting in the environment that cannot be used
            raise fail(settings_error_line(error), 2) from None
        except httpx.HTTPStatusError as error:
            response = error.response
            base = f"{response.request.url.scheme}://{response.request.url.netloc.decode()}"
            detail = " ".join(response.text.split())[:300]
            raise fail(f"{_service_at(base)} at {base} answered {response.status_code}: {detail}") from None
        except httpx.TransportError as error:
            try:
                request_url = error.request.url
                base = f"{request_url.scheme}://{request_url.netloc.decode()}"
            except RuntimeError:
                base = "?"
            raise fail(f"cannot reach {_service_at(base)} at {base}: {_transport_reason(error)}") from None
        except OperationalError as error:  # the database is not there, not running, or not migrated
            reason = " ".join(str(error.orig).split())[:300]
            raise fail(f"cannot use the database: {reason}") from None
        except (FileNotFoundError, PermissionError, IsADirectoryError) as error:
            raise fail(f"{error.filename}: {error.strerror}") from None
        except TimeoutError as error:  # e.g. a stream that stopped sending (services/cli/stream_reader.py)
            raise fail(f"gave up waiting: {error or 'timed out'}") from None

    return wrapper  # type: ignore[return-value]


def settings_error_line(error: Any) -> str:
    """One line naming each refused setting as the operator sets it (SBT_PORT_OFFSET, not port_offset)."""
    problems = []
    for item in error.errors():
        name = "SBT_" + "_".join(str(part) for part in item["loc"]).upper() if item["loc"] else "settings"
        problems.append(f"{name}: {item['msg']}")
    return "error: " + "; ".join(problems)


def _transport_reason(error: Exception) -> str:
    import httpx

    if isinstance(error, httpx.ConnectError):
        cause: BaseException | None = error
        while cause is not None:  # the OS's own reason is a few causes down
            if isinstance(cause, ConnectionRefusedError):
                return "connection refused"
            cause = cause.__cause__ or cause.__context__
        return str(error) or "cannot connect"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return str(error) or type(error).__name__


# --- output ------------------------------------------------------------------------------------------------

def print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("-" if value is None else str(value) for value in row))
    Console().print(table)


def progress(*, what: str, unit: str = ""):  # noqa: ANN201 - a rich Progress
    """A progress bar on stderr (stdout stays for what the command prints)."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    return Progress(SpinnerColumn(), TextColumn(f"[bold]{what}[/bold] {{task.description}}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn(unit), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=err_console, transient=False)
