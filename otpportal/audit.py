"""The why of staff changes, for the audit log (django-auditlog).

django-auditlog records who (``backoffice.middleware.AuditActorMiddleware``),
when and what (a diff of the audited fields) whenever an audited row is
saved. ``staff_change`` adds the rest around one staff operation in the
admin:

* every audit entry written inside carries the operation's name and the
  reason staff gave (``additional_data = {"action": …, "reason": …}``);
* a watched row whose audited fields changed without a save signal (its use
  case moved it with a conditional ``UPDATE``, as customer statuses and
  posted invoices are) gets its own entry afterwards, with the same actor,
  action and reason, so no change goes unrecorded and none is recorded twice.

The operation itself is always one service call: this module writes only
audit entries. Which models are audited is the back office's choice
(``backoffice.audit``); the admins of every app use this module, which
lives in the project package because no app may import the back office.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import models

REASON_MAX = 300


@dataclass
class _Operation:
    data: dict[str, str]
    actor: Any
    logged: set[tuple[int, str]] = field(default_factory=set)


_current: ContextVar[_Operation | None] = ContextVar("otpportal_audit_operation", default=None)


def _rows(objects: Iterable[models.Model]) -> dict[tuple[type[models.Model], Any], models.Model]:
    """Fresh copies of ``objects`` from the database, one query per model."""
    wanted: dict[type[models.Model], list[Any]] = defaultdict(list)
    for obj in objects:
        if obj is not None and obj.pk is not None:
            wanted[type(obj)._meta.concrete_model].append(obj.pk)
    found: dict[tuple[type[models.Model], Any], models.Model] = {}
    for model, pks in wanted.items():
        for row in model._base_manager.filter(pk__in=pks):
            found[(model, row.pk)] = row
    return found


def _watched(watch: Any) -> list[models.Model]:
    if watch is None:
        return []
    if isinstance(watch, models.Model):
        return [watch]
    return [obj for obj in watch if isinstance(obj, models.Model)]


@contextmanager
def staff_change(*, action: str, reason: str = "", actor: Any = None, watch: Any = None) -> Iterator[None]:
    """Run one staff operation (one service call) with its audit context; see
    the module's docstring. ``watch``: a row, or rows, the operation changes."""
    from auditlog.diff import model_instance_diff
    from auditlog.models import LogEntry
    from auditlog.registry import auditlog
    from django.contrib.contenttypes.models import ContentType

    data = {"action": action}
    if reason:
        data["reason"] = str(reason)[:REASON_MAX]
    user = actor if getattr(actor, "is_authenticated", False) else None
    watched = [obj for obj in _watched(watch) if auditlog.contains(type(obj)._meta.concrete_model)]
    before = _rows(watched)
    operation = _Operation(data=data, actor=user)
    token = _current.set(operation)
    try:
        yield
    finally:
        _current.reset(token)
    after = _rows(watched)
    for key, old in before.items():
        new = after.get(key)
        if new is None:
            continue  # deleted: the delete signal recorded it
        content_type = ContentType.objects.get_for_model(new)
        if (content_type.pk, str(new.pk)) in operation.logged:
            continue  # a save signal recorded it, with this context
        changes = model_instance_diff(old, new)
        if changes:
            LogEntry.objects.log_create(
                new,
                action=LogEntry.Action.UPDATE,
                changes=changes,
                actor=user,
                additional_data=dict(data),
            )


def stamp_entry(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``pre_save`` of an audit entry: inside ``staff_change``, add the
    operation's action and reason (and its actor when the middleware did
    not say who)."""
    operation = _current.get()
    if operation is None:
        return
    instance.additional_data = {**(instance.additional_data or {}), **operation.data}
    if instance.actor_id is None and operation.actor is not None:
        instance.actor = operation.actor
        instance.actor_email = getattr(operation.actor, "email", None)
    operation.logged.add((instance.content_type_id, str(instance.object_pk)))
