"""Serializers used without building them on every call (issue 11).

``SomeOut(data).data`` deep-copies the class's declared fields (each one constructed
again) on every call; on ``POST /api/v1/verifications`` that was a tenth of the worker's
CPU. ``represent(SomeOut, data)`` renders with the fields of one instance per class,
built once: the same ``get_attribute`` and ``to_representation`` calls, in the same
order, as ``Serializer.to_representation`` makes (fields read-only and stateless while
rendering, so one set serves every request and thread). The serializer classes stay
what the schema is generated from.

``validated(SomeIn, data)`` is ``SomeIn(data=data)`` + ``is_valid(raise_exception=True)``
+ ``validated_data``, run by one instance of the class per thread: ``run_validation``
keeps nothing on the instance (``is_valid`` is what stores the data or the errors), and
the refusal is the same ``ValidationError``, field by field.
"""

from __future__ import annotations

import threading
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import SkipField

_readable: dict[type[serializers.Serializer], list[serializers.Field]] = {}


def represent(serializer_class: type[serializers.Serializer], instance: Any) -> dict[str, Any]:
    """What ``serializer_class(instance).data`` is (as a plain dict)."""
    fields = _readable.get(serializer_class)
    if fields is None:
        fields = _readable[serializer_class] = list(serializer_class()._readable_fields)
    data: dict[str, Any] = {}
    for field in fields:
        try:
            attribute = field.get_attribute(instance)
        except SkipField:
            continue
        data[field.field_name] = None if attribute is None else field.to_representation(attribute)
    return data


_per_thread = threading.local()


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """What ``serializer_class(data=data)`` validates to, or its ``ValidationError``."""
    instances: dict[type[serializers.Serializer], serializers.Serializer] = _per_thread.__dict__.setdefault(
        "instances", {}
    )
    serializer = instances.get(serializer_class)
    if serializer is None:
        serializer = instances[serializer_class] = serializer_class()
    try:
        return dict(serializer.run_validation(data))
    except ValidationError as exc:
        raise ValidationError(exc.detail) from None
