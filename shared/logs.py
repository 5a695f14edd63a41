"""Structured JSON logs (structlog), each line carrying the service name and the current trace id.

SBT's own lines take structlog's native path (a filtering bound logger rendering with orjson straight to
stderr): the standard library's records, handlers and formatter cost about three times as much a line,
and the write paths log a line per request and per event. Lines of other libraries (uvicorn, SQLAlchemy)
still come through the standard library, rendered by the same processors into the same JSON.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog
from structlog.typing import EventDict, Processor

from shared.observability import current_traceparent, trace_id_of


def _add_trace(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    trace_id = trace_id_of(current_traceparent())
    if trace_id and "trace_id" not in event_dict:
        event_dict["trace_id"] = trace_id
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    def add_service(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        event_dict["service"] = service
        return event_dict

    shared_processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace,
    ]
    structlog.configure(
        processors=[*shared_processors, add_service, structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(serializer=_json_bytes)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.BytesLoggerFactory(sys.stderr.buffer),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared_processors],
        processors=[
            add_service,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _json_bytes(event_dict: dict[str, Any], **_options: Any) -> bytes:
    # Values orjson does not know (a Decimal, an exception object) are written as their text.
    return orjson.dumps(event_dict, default=str)
