"""The asynchronous pipeline's statements, written by hand and compiled once per process from the models.

Accepting an event and running an attempt are a few fixed statements on a few tables, but the ORM
compiles each query afresh and builds, saves and reads instances through its whole machinery:
about 0.8 ms of Python for the lookup of one invocation with its tenant here, several times its
database round trip, and as much again for each write. The statements here are built once per
process from the models' own definitions (table and column names from ``_meta``), take their
values through each field's ``get_db_prep_save`` and read them back through the field's own
converters, so that a change to a model changes them too; they run on Django's cursor, in its
connections and transactions.

Rows that must land together are one statement on PostgreSQL (data-modifying ``WITH``), which
under autocommit costs one round trip and no ``BEGIN`` or ``COMMIT``: the invocation with its
outbox message, for a whole batch of them (``insert_events``), the outcome with the attempt's row and the outbox message
(``finish``). SQLite has no such statements: there they run one after the other in one
transaction, which costs no round trip in-process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Field, Model
from django.db.models.expressions import Col

from lambent.iam.models import Tenant
from lambent.invocations.models import Attempt, Invocation, OutboxMessage

#: A row as attribute names (``tenant_id``, not ``tenant``) and Python values.
Row = dict[str, Any]


@dataclass(slots=True)
class _Plan:
    """How ``_Table.values`` fills a row of the columns given in one order: the values of the
    columns that take a fixed default, then the given ones, then those made for each row."""

    constants: list[Any]
    given: list[tuple[int, str, Callable[[Any], Any]]]
    made: list[tuple[int, Callable[[Any], Any], Any]]


class _Table:
    """A model's table as the statements need it: quoted names, its fields, their defaults."""

    def __init__(self, model: type[Model]) -> None:
        quote = connection.ops.quote_name
        meta = model._meta
        self.model = model
        self.name = quote(meta.db_table)
        self.fields: list[Field[Any, Any]] = list(meta.concrete_fields)
        self.by_attname = {field.attname: field for field in self.fields}
        self.columns = {field.attname: quote(_column(field)) for field in self.fields}
        self.writable = [field for field in self.fields if not field.primary_key]
        self.pk = self.columns[meta.pk.attname]
        self.preparers = {field.attname: _preparer(field) for field in self.fields}
        self._plans: dict[tuple[str, ...], _Plan] = {}

    def values(self, row: Row, *, now: datetime) -> list[Any]:
        """Every writable column's value for a new row: ``row``'s, else the field's default
        (``now`` for ``auto_now`` and ``auto_now_add`` fields), as the database takes it."""
        names = tuple(row)
        plan = self._plans.get(names) or self._plans.setdefault(names, self._plan(names))
        values = plan.constants.copy()
        for index, attname, prepare in plan.given:
            values[index] = prepare(row[attname])
        for index, prepare, default in plan.made:
            values[index] = prepare(now if default is _NOW else default())
        return values

    def _plan(self, names: tuple[str, ...]) -> _Plan:
        plan = _Plan(constants=[], given=[], made=[])
        for index, field in enumerate(self.writable):
            prepare, default = self.preparers[field.attname], _default(field)
            plan.constants.append(None if field.attname in names or default is _NOW or callable(default) else default)
            if field.attname in names:
                plan.given.append((index, field.attname, prepare))
            elif default is _NOW or callable(default):
                plan.made.append((index, prepare, default))
        return plan

    def prepared(self, row: Row) -> list[Any]:
        """``row``'s values as the database takes them, in ``row``'s order."""
        return [self.preparers[name](value) for name, value in row.items()]

    def insert_columns(self) -> str:
        return ", ".join(self.columns[field.attname] for field in self.writable)

    def placeholders(self) -> str:
        return ", ".join(["%s"] * len(self.writable))

    def assignments(self, names: Sequence[str]) -> str:
        return ", ".join(f"{self.columns[name]} = %s" for name in names)

    def conditions(self, names: Sequence[str]) -> str:
        return " AND ".join(f"{self.columns[name]} = %s" for name in names)


#: The default of ``auto_now`` and ``auto_now_add`` fields: the time the row is written.
_NOW = object()
#: Fields whose Python values the database drivers take as they are (``None`` included).
_PLAIN = (models.CharField, models.TextField, models.IntegerField, models.FloatField, models.BooleanField,
          models.ForeignKey)


def _preparer(field: Field[Any, Any]) -> Callable[[Any], Any]:
    """What turns a Python value of ``field`` into what the database takes, as
    ``field.get_db_prep_save`` does: nothing for the plain types (given as their Python type), the
    backend's own adapter for date-times (timezone-aware, as the platform makes them), the field
    itself otherwise.
    Going through the field and ``connection`` for every value was a fifth of writing a row."""
    if isinstance(field, _PLAIN):
        return _same
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value  # the backend's operations, alike on every thread
    return functools.partial(_prepared_by_field, field)


def _prepared_by_field(field: Field[Any, Any], value: Any) -> Any:
    return field.get_db_prep_save(value, connection)


def _same(value: Any) -> Any:
    return value


def _default(field: Field[Any, Any]) -> Any:
    """``_NOW``, a callable making each row's value, or the value prepared once for every row."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return _NOW
    if field.has_default() and callable(field.default):
        return field.get_default
    return field.get_db_prep_save(field.get_default(), connection)


def _column(field: Field[Any, Any]) -> str:
    assert field.column is not None  # a concrete field's
    return field.column


@functools.cache
def table_of(model: type[Model]) -> _Table:
    """``model``'s table, built once per process."""
    return _Table(model)


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


# --- accepting -----------------------------------------------------------------------------------

@functools.cache
def insert_sql(model: type[Model], rows: int = 1) -> str:
    table = table_of(model)
    values = ", ".join([f"({table.placeholders()})"] * rows)
    return f"INSERT INTO {table.name} ({table.insert_columns()}) VALUES {values}"


@functools.cache
def _insert_events_sql(rows: int) -> str:
    pk = table_of(Invocation).pk
    return (f"WITH i AS ({insert_sql(Invocation, rows)} RETURNING {pk}), o AS ({insert_sql(OutboxMessage, rows)}) "
            f"SELECT {pk} FROM i")


def insert_events(events: Sequence[tuple[Row, Row]], *, now: datetime) -> list[int]:
    """Insert invocations with their outbox messages, (invocation, message) each, all together (in
    the caller's transaction, if any): the invocations' ids, in order. Columns not in the rows take
    their fields' defaults."""
    invocations, outbox = table_of(Invocation), table_of(OutboxMessage)
    rows = [(invocations.values(invocation, now=now), outbox.values(message, now=now))
            for invocation, message in events]
    with connection.cursor() as cursor:
        if _postgresql():  # RETURNING gives the rows of a VALUES list in its order, as bulk_create relies on
            cursor.execute(_insert_events_sql(len(rows)), [value for row, _ in rows for value in row]
                           + [value for _, message in rows for value in message])
            return [int(pk) for pk, in cursor.fetchall()]
        pks = []
        with transaction.atomic(savepoint=False):
            for row, message in rows:
                cursor.execute(insert_sql(Invocation), row)
                pks.append(int(connection.ops.last_insert_id(cursor, Invocation._meta.db_table,
                                                             _column(Invocation._meta.pk))))
                cursor.execute(insert_sql(OutboxMessage), message)
    return pks


# --- reading -------------------------------------------------------------------------------------

class _Reader:
    """The columns of a model as selected under an alias, with the converters that turn what the
    database answers into the fields' Python values."""

    def __init__(self, model: type[Model], alias: str) -> None:
        table = table_of(model)
        self.model = model
        self.columns = ", ".join(f"{alias}.{table.columns[field.attname]}" for field in table.fields)
        self.converters: list[tuple[Col, list[Any]]] = []
        for field in table.fields:  # as the ORM's compiler converts: the backend's, then the field's
            column = field.get_col(model._meta.db_table)
            self.converters.append((column, [*connection.ops.get_db_converters(column),
                                             *column.get_db_converters(connection)]))
        self.width = len(table.fields)

    def instance(self, values: Sequence[Any]) -> Model:
        converted = []
        for value, (column, converters) in zip(values, self.converters, strict=True):
            for converter in converters:
                value = converter(value, column, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, None, converted)  # type: ignore[arg-type]


@functools.cache
def _invocation_reader() -> tuple[_Reader, _Reader, str]:
    invocations, tenants = _Reader(Invocation, "i"), _Reader(Tenant, "t")
    table, tenant_table = table_of(Invocation), table_of(Tenant)
    sql = (f"SELECT {invocations.columns}, {tenants.columns} FROM {table.name} i "
           f"INNER JOIN {tenant_table.name} t ON t.{tenant_table.pk} = i.{table.columns['tenant_id']} "
           f"WHERE i.{table.columns['request_id']} = %s")
    return invocations, tenants, sql


def invocation(*, request_id: str) -> Invocation | None:
    """The invocation with its tenant, in one query and without the ORM's compiling."""
    invocations, tenants, sql = _invocation_reader()
    key = Invocation._meta.get_field("request_id").get_db_prep_value(request_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        found = cursor.fetchone()
    if found is None:
        return None
    invocation = invocations.instance(found[:invocations.width])
    tenant = tenants.instance(found[invocations.width:])
    Invocation.tenant.field.set_cached_value(invocation, tenant)
    return invocation  # type: ignore[return-value]


# --- writing -------------------------------------------------------------------------------------

@functools.cache
def _update_sql(model: type[Model], names: tuple[str, ...], where: tuple[str, ...]) -> str:
    table = table_of(model)
    return f"UPDATE {table.name} SET {table.assignments(names)} WHERE {table.conditions(where)}"


def update(model: type[Model], *, where: Row, values: Row) -> int:
    """``UPDATE`` the rows of ``model`` equal to ``where`` with ``values``: how many changed."""
    table = table_of(model)
    sql = _update_sql(model, tuple(values), tuple(where))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*table.prepared(values), *table.prepared(where)])
        return int(cursor.rowcount)


@functools.cache
def _message_sql(*, owed: bool, after: str = "") -> str:
    """The outbox message of an ended attempt (task and key): deleted, or (``owed``) due again,
    inserted if it was missing; only when ``after`` holds, if given (an SQL condition)."""
    outbox = table_of(OutboxMessage)
    task, key, due_at = (outbox.columns[name] for name in ("task", "key", "due_at"))
    if not owed:
        return f"DELETE FROM {outbox.name} WHERE {task} = %s AND {key} = %s" + (f" AND {after}" if after else "")
    rows = f"SELECT {outbox.placeholders()} WHERE {after}" if after else f"VALUES ({outbox.placeholders()})"
    return (f"INSERT INTO {outbox.name} ({outbox.insert_columns()}) {rows} "
            f"ON CONFLICT ({task}, {key}) DO UPDATE SET {due_at} = EXCLUDED.{due_at}")


@functools.cache
def _finish_sql(names: tuple[str, ...], where: tuple[str, ...], *, owed: bool) -> str:
    table, attempts = table_of(Invocation), table_of(Attempt)
    fenced = _update_sql(Invocation, names, where)
    attempt = (f"INSERT INTO {attempts.name} ({attempts.insert_columns()}) "
               f"SELECT {attempts.placeholders()} FROM u")
    message = _message_sql(owed=owed, after="EXISTS (SELECT 1 FROM u)")
    return (f"WITH u AS ({fenced} RETURNING {table.pk}), a AS ({attempt}), m AS ({message}) "
            f"SELECT count(*) FROM u")


def finish(*, where: Row, values: Row, attempt: Row, task: str, key: str, due_at: datetime | None,
           now: datetime) -> bool:
    """Write an attempt's outcome while the invocation is as ``where`` says (its lease still the
    attempt's): ``values`` on the invocation, ``attempt`` as a new ``Attempt`` row, and the outbox
    message of ``task`` and ``key`` deleted, or due at ``due_at``. False, and nothing written, when
    it is no longer so."""
    table, attempts, outbox = table_of(Invocation), table_of(Attempt), table_of(OutboxMessage)
    fenced = [*table.prepared(values), *table.prepared(where)]
    attempt_values = attempts.values(attempt, now=now)
    message_values = (outbox.prepared({"task": task, "key": key}) if due_at is None
                      else outbox.values({"task": task, "key": key, "due_at": due_at}, now=now))
    with connection.cursor() as cursor:
        if _postgresql():
            cursor.execute(_finish_sql(tuple(values), tuple(where), owed=due_at is not None),
                           [*fenced, *attempt_values, *message_values])
            return bool(cursor.fetchone()[0])
        with transaction.atomic(savepoint=False):
            cursor.execute(_update_sql(Invocation, tuple(values), tuple(where)), fenced)
            if not cursor.rowcount:
                return False
            cursor.execute(insert_sql(Attempt), attempt_values)
            cursor.execute(_message_sql(owed=due_at is not None), message_values)
    return True
