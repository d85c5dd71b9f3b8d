"""Statements the hot paths run on every request, without the ORM's per-call cost (issue 11).

Django builds and compiles a query's SQL on every call, and on the paths the bench
measures that cost more than PostgreSQL's answer (profiles of ``GET /api/v1/me``, of a
check, of a receipt: a third to two thirds of each lookup in Django's compiler). Here:

* ``JoinedRow``: a row and its parent (the API key and its customer), by a SELECT written
  once from the models' metadata;
* ``Scalar`` / ``Column`` / ``FirstInstance`` / ``Instances``: a queryset compiled once by
  the ORM itself, with sentinel values standing for its parameters, then run with each
  call's values: the first value, a column's values, the first row as an instance, or
  every row as instances;
* ``update_row``: some columns of one row, by an UPDATE written once (a code check, a
  message's move, a receipt's reference);
* ``copy_insert``: many new rows by ``COPY … FROM STDIN`` (month end's invoices and lines);
* ``set_column``: one column of many rows, each its own value, by one ``UPDATE … FROM
  unnest(…)`` (API keys' "last used" times);
* ``prepared_cursor``: a cursor whose statements are prepared on the connection (the
  one-statement send, and every statement of this module run per request or per receipt).

Instances are built as the ORM's own iterator builds them (``Model.from_db`` after the
backend's converters), so callers get the objects they got before; elsewhere than on
PostgreSQL the writes fall back to ``bulk_create`` / ``bulk_update``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import connections, router
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Any, Any], Any]
Built = tuple[str, list[Field], list[Field], list[tuple[int, Any, list[Converter]]]]


def _converters(connection: Any, columns: list[tuple[str, Field]]) -> list[tuple[int, Any, list[Converter]]]:
    """For each selected (table alias, field), the backend's and the field's converters, as
    the ORM's iterator applies them; only the columns that have any."""
    found = []
    for index, (table_alias, field) in enumerate(columns):
        expression = field.get_col(table_alias)
        field_converters = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
        if field_converters:
            found.append((index, expression, field_converters))
    return found


def _converted(row: tuple[Any, ...], converters: list[tuple[int, Any, list[Converter]]], connection: Any) -> list:
    values = list(row)
    for index, expression, field_converters in converters:
        for converter in field_converters:
            values[index] = converter(values[index], expression, connection)
    return values


class JoinedRow(Generic[M]):
    """``get(value)``: the ``model`` row whose ``lookup`` column equals ``value``
    (and whose ``extra_where`` holds), with its ``parent`` foreign key's row
    attached (as ``select_related(parent)`` would), or None."""

    def __init__(self, model: type[M], parent: str, lookup: str, extra_where: str = "") -> None:
        self.model = model
        self.parent_field = model._meta.get_field(parent)
        self.lookup = model._meta.get_field(lookup)
        self.extra_where = extra_where  # SQL over the alias "t", e.g. '"t"."revoked_at" IS NULL'
        self._built: dict[str, Built] = {}

    def _build(self, alias: str) -> Built:
        connection = connections[alias]
        quote = connection.ops.quote_name
        parent_model = self.parent_field.related_model
        own = list(self.model._meta.concrete_fields)
        parents = list(parent_model._meta.concrete_fields)
        columns = [f"{quote('t')}.{quote(f.column)}" for f in own]
        columns += [f"{quote('p')}.{quote(f.column)}" for f in parents]
        where = f"{quote('t')}.{quote(self.lookup.column)} = %s"
        if self.extra_where:
            where += f" AND ({self.extra_where})"
        # Names from the models' metadata; the value is a parameter.
        table = quote(self.model._meta.db_table)
        sql = (
            f"SELECT {', '.join(columns)} FROM {table} {quote('t')}"  # noqa: S608
            f" INNER JOIN {quote(parent_model._meta.db_table)} {quote('p')}"
            f" ON {quote('p')}.{quote(self.parent_field.target_field.column)}"
            f" = {quote('t')}.{quote(self.parent_field.column)}"
            f" WHERE {where}"
        )
        converters = _converters(connection, [("t", f) for f in own] + [("p", f) for f in parents])
        return sql, own, parents, converters

    def get(self, value: object) -> M | None:
        alias = router.db_for_read(self.model)
        built = self._built.get(alias)
        if built is None:
            built = self._built[alias] = self._build(alias)
        sql, own, parents, converters = built
        connection = connections[alias]
        with prepared_cursor(alias) as cursor:
            cursor.execute(sql, [self.lookup.get_db_prep_value(value, connection)])
            row = cursor.fetchone()
        if row is None:
            return None
        values = _converted(row, converters, connection)
        instance = self.model.from_db(alias, [f.attname for f in own], values[: len(own)])
        parent = self.parent_field.related_model.from_db(alias, [f.attname for f in parents], values[len(own) :])
        self.parent_field.set_cached_value(instance, parent)
        return instance


# Field classes whose Python value is what the database column takes: COPY writes them as they are.
_PLAIN = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateField",
    "DateTimeField",
    "IntegerField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SlugField",
    "SmallIntegerField",
    "TextField",
}


def _plain(field: Field) -> bool:
    """True when the attribute's value can be written as it is: no ``pre_save`` to run
    (``auto_now``/``auto_now_add`` fill theirs there) and no adaptation to make."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return False
    target = field.target_field if field.is_relation else field
    return target.get_internal_type() in _PLAIN


def copy_insert(model: type[Model], objs: list[Model], *, using: str = "default", with_ids: bool = False) -> int:
    """Insert ``objs`` (unsaved instances of ``model``) with one ``COPY … FROM STDIN``
    on PostgreSQL, ``bulk_create`` elsewhere; returns how many. Issue 11: the
    month-end's 18,000 invoice lines cost more in Django's bulk INSERT (every value
    prepared, then dumped into arrays) than in the database. Like ``bulk_create`` it
    sends no signal. With ``with_ids`` the instances get their primary keys first, taken
    from the table's sequence in one statement; without, they get none."""
    if not objs:
        return 0
    connection = connections[using]
    if connection.vendor != "postgresql":
        model._default_manager.using(using).bulk_create(objs, batch_size=500)
        return len(objs)
    quote = connection.ops.quote_name
    pk = model._meta.pk
    if with_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [quote(model._meta.db_table), pk.column, len(objs)],
            )
            for obj, (new_id,) in zip(objs, cursor.fetchall(), strict=True):
                setattr(obj, pk.attname, new_id)
                obj._state.adding = False
                obj._state.db = using
    fields = [f for f in model._meta.concrete_fields if not (f is pk and getattr(objs[0], f.attname) is None)]
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    plain = [_plain(f) for f in fields]
    # The wrapper turns the driver's errors into Django's (a unique violation is an IntegrityError).
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for obj in objs:
            copy.write_row(
                [
                    getattr(obj, f.attname) if is_plain else f.get_db_prep_save(f.pre_save(obj, True), connection)
                    for f, is_plain in zip(fields, plain, strict=True)
                ]
            )
    return len(objs)


class Scalar:
    """The first column of the first row of a queryset whose SQL is compiled once.

    ``build(**sentinels)`` returns the queryset (a ``values_list(…, flat=True)``
    with its order); it is compiled on first use with the given sentinel values
    standing for the parameters, and each ``get(**values)`` runs the same
    statement with the values in their places. For lookups by equality on
    plain columns (the sentinels must be values that no fixed part of the
    query uses); the column read must need no conversion (text, integers).
    """

    first_only = True

    def __init__(self, build: Callable[..., Any], **sentinels: object) -> None:
        self.build = build
        self.sentinels = sentinels
        self._compiled: dict[str, tuple[str, list[tuple[str | None, object]]]] = {}
        self._model: type[Model] | None = None

    def _compile(self, alias: str) -> tuple[str, list[tuple[str | None, object]]]:
        queryset = self.build(**self.sentinels)
        if self.first_only:
            queryset = queryset[:1]
        sql, params = queryset.query.get_compiler(alias).as_sql()
        by_value = {repr(value): name for name, value in self.sentinels.items()}
        slots = [(by_value.get(repr(param)), param) for param in params]
        missing = set(self.sentinels) - {name for name, _ in slots}
        if missing:
            raise ValueError(f"sentinels not found among the query's parameters: {sorted(missing)}")
        return sql, slots

    def _execute(self, values: dict[str, object]) -> tuple[str, list[tuple[Any, ...]]]:
        if self._model is None:
            self._model = self.build(**self.sentinels).model
        alias = router.db_for_read(self._model)
        compiled = self._compiled.get(alias)
        if compiled is None:
            compiled = self._compiled[alias] = self._compile(alias)
        sql, slots = compiled
        params = [values[name] if name is not None else fixed for name, fixed in slots]
        with prepared_cursor(alias) as cursor:
            cursor.execute(sql, params)
            return alias, cursor.fetchall()

    def get(self, **values: object) -> Any:
        _alias, rows = self._execute(values)
        return rows[0][0] if rows else None


class Column(Scalar):
    """``Scalar`` for every row: ``get(**values)`` is the list of the first column's values."""

    first_only = False

    def get(self, **values: object) -> Any:
        _alias, rows = self._execute(values)
        return [row[0] for row in rows]


class FirstInstance(Scalar):
    """``Scalar``'s compiled-once statement for a queryset of whole rows (no
    ``values``, ``only`` or ``select_related``; ``select_for_update`` allowed,
    inside the transaction): ``get(**values)`` is the first instance, built as
    the ORM builds it (``Model.from_db`` after the backend's converters), or None."""

    def __init__(self, build: Callable[..., Any], **sentinels: object) -> None:
        super().__init__(build, **sentinels)
        self._prepared: dict[str, tuple[list[str], list[tuple[int, Any, list[Converter]]]]] = {}

    def get(self, **values: object) -> Any:
        alias, rows = self._execute(values)
        return self._built(alias, rows[:1])[0] if rows else None

    def _built(self, alias: str, rows: list[tuple[Any, ...]]) -> list[Any]:
        model: Any = self._model  # set by _execute
        connection = connections[alias]
        prepared = self._prepared.get(alias)
        if prepared is None:
            fields = model._meta.concrete_fields
            table = model._meta.db_table
            prepared = self._prepared[alias] = (
                [f.attname for f in fields],
                _converters(connection, [(table, f) for f in fields]),
            )
        attnames, converters = prepared
        return [model.from_db(alias, attnames, _converted(row, converters, connection)) for row in rows]


class Instances(FirstInstance):
    """``FirstInstance`` for every row: ``get(**values)`` is the list of instances."""

    first_only = False

    def get(self, **values: object) -> Any:
        alias, rows = self._execute(values)
        return self._built(alias, rows)


_updates: dict[tuple[Any, ...], tuple[str, list[Field], list[Field]]] = {}


def update_row(
    model: type[Model], pk: object, values: dict[str, object], *, where: dict[str, object] | None = None
) -> int:
    """``model.objects.filter(pk=pk, **where).update(**values)`` for plain values (no
    expressions; ``where`` by equality, no None), by an UPDATE written once per model,
    columns and database from the model's metadata: Django compiles ``update`` and
    ``save(update_fields=…)`` on every call, an eighth of a code check and a part of every
    receipt in the profiles. Like ``QuerySet.update`` it sends no signal; returns the rows
    changed."""
    where = where or {}
    alias = router.db_for_write(model)
    connection = connections[alias]
    key = (model, tuple(values), tuple(where), alias)
    built = _updates.get(key)
    if built is None:
        meta = model._meta
        quote = connection.ops.quote_name
        setting = [meta.get_field(name) for name in values]
        matching = [meta.pk, *(meta.get_field(name) for name in where)]
        assignments = ", ".join(f"{quote(f.column)} = %s" for f in setting)
        conditions = " AND ".join(f"{quote(f.column)} = %s" for f in matching)
        # Names from the model's metadata; the values are parameters.
        sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {conditions}"  # noqa: S608
        built = _updates[key] = (sql, setting, matching)
    sql, setting, matching = built
    params = []
    for field, value in zip(setting, values.values(), strict=True):
        if hasattr(value, "resolve_expression"):
            raise TypeError(f"update_row takes plain values; {field.name} is an expression")
        params.append(field.get_db_prep_save(value, connection))
    for field, value in zip(matching, (pk, *where.values()), strict=True):
        if value is None:
            raise ValueError(f"update_row matches by equality; {field.name} is None")
        params.append(field.get_db_prep_value(value, connection))
    with prepared_cursor(connection.alias) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def set_column(model: type[Model], field_name: str, values: dict[Any, Any], *, using: str = "default") -> int:
    """Set one column of many rows, each to its own value, by primary key; returns the rows
    changed. On PostgreSQL one ``UPDATE … FROM unnest(ids, values)`` (``bulk_update`` writes
    a ``CASE`` with a branch per row, which Django compiles at a cost that grows with the
    rows: 8 % of ``GET /api/v1/me`` went to flushing API keys' "last used" times that way);
    elsewhere ``bulk_update``."""
    if not values:
        return 0
    connection = connections[using]
    field = model._meta.get_field(field_name)
    pk = model._meta.pk
    if connection.vendor != "postgresql":
        rows = [model(**{pk.attname: key, field.attname: value}) for key, value in values.items()]
        return model._default_manager.using(using).bulk_update(rows, [field_name])
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    sql = (
        f"UPDATE {table} SET {quote(field.column)} = v.value"  # noqa: S608 - names from the model
        f" FROM unnest(%s::{pk.db_type(connection)}[], %s::{field.db_type(connection)}[]) AS v(key, value)"
        f" WHERE {table}.{quote(pk.column)} = v.key"
    )
    keys = list(values)
    prepared = [field.get_db_prep_save(values[key], connection) for key in keys]
    with connection.cursor() as cursor:
        cursor.execute(sql, [keys, prepared])
        return cursor.rowcount


def prepared_cursor(alias: str = "default") -> Any:
    """A cursor of ``alias`` (PostgreSQL) whose statements are bound on the server and
    prepared, wrapped as ``connection.cursor()`` wraps its own (errors as Django's, queries
    logged and counted, execute wrappers run), the health check done first.

    Django's cursors bind on the client: psycopg quotes every parameter into the SQL text
    and PostgreSQL parses and plans the whole text on every call. Here the statement is
    prepared on the connection the first time (psycopg's ``prepare=True``; Django turns
    psycopg's automatic preparation off) and PostgreSQL then runs its saved plan: for a
    statement of a few KB run on every send, the parse and the plan are saved each time.
    Keep it to statements of a fixed text (psycopg keeps up to 100 per connection).
    Elsewhere than on PostgreSQL (psycopg 3), ``connection.cursor()``."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(_prepared_cursor_class()(connection.connection))


@functools.cache
def _prepared_cursor_class() -> Any:
    """psycopg's server-binding cursor (Django's flavour) asking for every statement to be
    prepared; built on first use, so that a process on SQLite never loads the PostgreSQL
    backend."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparedCursor(ServerBindingCursor):  # type: ignore[misc, valid-type]
        def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, **kwargs: Any) -> Any:
            return super().execute(query, params, prepare=True if prepare is None else prepare, **kwargs)

    return PreparedCursor
