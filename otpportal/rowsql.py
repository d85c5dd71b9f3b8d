"""One row and its parent, read by a SELECT built once (issue 11).

The ORM compiles a query's SQL on every call: for the API key behind a
request, looked up on every request that misses the process's hot cache, the
compiling cost more than PostgreSQL's answer (a profile of ``GET /api/v1/me``
with 10,000 keys in rotation: 45 % of the request in the lookup, two thirds of
that in Django's compiler). ``JoinedRow`` writes the statement once from the
models' own metadata (tables, columns, the foreign key) and builds the
instances with ``Model.from_db`` after the backend's converters, as the ORM's
own iterator does, so the instances are the ones ``select_related`` gives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import connections, router
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Any, Any], Any]
Built = tuple[str, list[Field], list[Field], list[tuple[Any, list[Converter]]]]


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
        converters = []
        for table_alias, field in [("t", f) for f in own] + [("p", f) for f in parents]:
            expression = field.get_col(table_alias)
            converters.append(
                (expression, connection.ops.get_db_converters(expression) + field.get_db_converters(connection))
            )
        return sql, own, parents, converters

    def get(self, value: object) -> M | None:
        alias = router.db_for_read(self.model)
        built = self._built.get(alias)
        if built is None:
            built = self._built[alias] = self._build(alias)
        sql, own, parents, converters = built
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.lookup.get_db_prep_value(value, connection)])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for index, (expression, field_converters) in enumerate(converters):
            for converter in field_converters:
                values[index] = converter(values[index], expression, connection)
        instance = self.model.from_db(alias, [f.attname for f in own], values[: len(own)])
        parent = self.parent_field.related_model.from_db(alias, [f.attname for f in parents], values[len(own) :])
        self.parent_field.set_cached_value(instance, parent)
        return instance
