"""Several statements in one round trip on PostgreSQL; the same reads one by one on SQLite.

Each round trip costs the writer more than its statement: psycopg gives up the GIL to send and
again to wait, and under load each time takes about a millisecond to get it back from the event
loop (bench/ingest.py --profile). psycopg's pipeline mode sends the statements of
:func:`run_together` back to back and waits once. A :class:`PipelineSelect` is one Core query
built twice from the same function: with ``IN`` of an expanding list for SQLite, and with
``= ANY(array)`` compiled once, at import, for PostgreSQL, whose text is then the same whatever
the number of names and needs no compiling per call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import ColumnElement, Connection, Select, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from mcos.storage.database import send_pending_begin

Among = Callable[[ColumnElement[Any], str], ColumnElement[bool]]
"""``among(column, name)``: the column's value is one of the list bound as ``name``."""

_POSTGRESQL = PGDialect_psycopg()  # type: ignore[no-untyped-call]


def _in_expanding(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    return column.in_(bindparam(name, expanding=True))


def _equals_any(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    return column == any_(bindparam(name, type_=ARRAY(column.type)))


@dataclass(frozen=True)
class PipelineSelect:
    """One SELECT for both back ends; build it with :meth:`build`."""

    sqlite: Select[Any]
    postgresql: str
    """The query compiled for psycopg: ``%(name)s`` parameters, lists bound as arrays."""
    constants: Mapping[str, Any]
    """The values the query itself binds (``scope == "fleet"``), sent with the caller's."""

    @classmethod
    def build(cls, make: Callable[[Among], Select[Any]]) -> PipelineSelect:
        """``make(among)`` builds the query; every list it binds goes through ``among``."""
        compiled = make(_equals_any).compile(dialect=_POSTGRESQL)
        constants = {
            name: value
            for name, value in compiled.construct_params(_check=False).items()
            if value is not None
        }
        return cls(make(_in_expanding), str(compiled), constants)


class Answer(NamedTuple):
    rows: list[Any]
    """Rows with the columns as attributes (and ``_asdict()``); none for a write."""
    rowcount: int


Statement = tuple[PipelineSelect | str, Sequence[Any] | Mapping[str, Any]]
"""A query and its parameters; a string is PostgreSQL's own SQL (a write such as an UPDATE)."""


def run_together(conn: Connection, statements: Sequence[Statement]) -> list[Answer]:
    """Run ``statements`` in order, in the connection's transaction, and answer each.

    On PostgreSQL in one round trip; an error in one skips those after it and is raised here,
    leaving the transaction aborted (the writer rolls it back). On SQLite one after the other,
    and only :class:`PipelineSelect` queries.
    """
    if conn.dialect.name != "postgresql":
        answers = []
        for statement, params in statements:
            if not isinstance(statement, PipelineSelect):
                raise TypeError("SQL text in run_together is for PostgreSQL only")
            result = conn.execute(statement.sqlite, params)
            answers.append(Answer(list(result.all()), result.rowcount))
        return answers
    raw = cast(psycopg.Connection[Any], conn.connection.dbapi_connection)
    cursors = []
    with raw.pipeline():
        send_pending_begin(conn, raw)
        for statement, params in statements:
            cursor = raw.cursor(row_factory=namedtuple_row)
            if isinstance(statement, PipelineSelect):
                assert isinstance(params, Mapping), "a PipelineSelect takes named parameters"
                cursor.execute(statement.postgresql, {**statement.constants, **params})
            else:
                cursor.execute(statement, params)
            cursors.append(cursor)
    answers = []
    for cursor in cursors:
        with cursor:
            rows = cursor.fetchall() if cursor.description is not None else []
            answers.append(Answer(list(rows), cursor.rowcount))
    return answers
