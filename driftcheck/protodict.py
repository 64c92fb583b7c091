"""Protocol buffer messages as the dicts proto-plus ``to_dict`` makes of them, for less CPU.

Every resource read is turned into a dict with ``to_dict(message,
preserving_proto_field_name=True, use_integers_for_enums=False)``, which is protobuf's
``MessageToDict`` printing every field without presence: a generic walk that asks each field's
descriptor, on every message, how to print it, and then walks every field of the type again for
the defaults. For thousands of services that was a tenth of a run's CPU. :func:`message_dict`
makes the same dict from a plan built once per message type (which converter for each field,
which defaults to add); anything the plan does not cover is printed by ``MessageToDict``'s own
printer: well-known types (timestamps, durations, wrappers, structs, ``Any``), extensions, enum
values with JSON names of their own, and a closed enum holding an unknown number (an error).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Convert = Callable[[Any], Any]


def _printer() -> Any:
    """``MessageToDict``'s own printer, with ``to_dict``'s options, for what plans leave out
    (a new one each time, as ``MessageToDict`` makes; protobuf is imported on first use:
    ``diff`` never needs it)."""
    from google.protobuf import json_format

    return json_format._Printer(  # noqa: SLF001
        preserving_proto_field_name=True,
        use_integers_for_enums=False,
        always_print_fields_with_no_presence=True,
    )


class _Unplanned(Exception):
    """A message, or a value, this module leaves to ``MessageToDict``'s printer."""


@dataclass(frozen=True)
class _Plan:
    """How to print one message type: a converter per field number, and the fields without
    presence to add (name, and a maker of their default) when the message does not set them."""

    fields: dict[int, tuple[str, Convert]]
    defaults: tuple[tuple[str, Callable[[], Any]], ...]


_PLANS: dict[Any, _Plan | None] = {}  # by message descriptor


def message_dict(message: Any) -> dict[str, Any]:
    """``type(message).to_dict(message, preserving_proto_field_name=True,
    use_integers_for_enums=False)`` for a proto-plus message, ``MessageToDict`` with those options
    and every field without presence for a protobuf one."""
    pb = getattr(type(message), "pb", None)
    raw = pb(message) if pb is not None else message
    try:
        result: dict[str, Any] = _message(raw)
    except ValueError:
        # A value with no JSON form (a timestamp out of range): the printer raises for it what
        # MessageToDict raises, naming the field.
        result = _printer()._MessageToJsonObject(raw)  # noqa: SLF001
    return result


def _message(message: Any) -> Any:
    plan = _plan(message.DESCRIPTOR)
    if plan is None:
        return _printer()._MessageToJsonObject(message)  # noqa: SLF001
    js: dict[str, Any] = {}
    fields = plan.fields
    try:
        for field, value in message.ListFields():
            known = fields.get(field.number)
            if known is None or field.is_extension:
                raise _Unplanned
            name, convert = known
            js[name] = convert(value)
    except _Unplanned:
        return _printer()._MessageToJsonObject(message)  # noqa: SLF001
    for name, default in plan.defaults:
        if name not in js:
            js[name] = default()
    return js


def _plan(message_type: Any) -> _Plan | None:
    if message_type in _PLANS:
        return _PLANS[message_type]
    plan = None
    if not _special(message_type):
        plan = _Plan(
            fields={field.number: (field.name, _converter(field)) for field in message_type.fields},
            defaults=tuple(
                (field.name, _default(field))
                for field in message_type.fields
                if not field.has_presence
            ),
        )
    _PLANS[message_type] = plan  # built twice at worst, by two threads, alike
    return plan


def _special(message_type: Any) -> bool:
    """Types ``MessageToDict`` prints in a JSON form of their own."""
    from google.protobuf import json_format

    return (
        json_format._IsWrapperMessage(message_type)  # noqa: SLF001
        or message_type.full_name in json_format._WKTJSONMETHODS  # noqa: SLF001
    )


def _converter(field: Any) -> Convert:
    from google.protobuf import json_format

    if json_format._IsMapEntry(field):  # noqa: SLF001
        value_of = _scalar(field.message_type.fields_by_name["value"])
        return lambda mapping: {_map_key(key): value_of(mapping[key]) for key in mapping}
    one = _scalar(field)
    if field.is_repeated:
        return lambda values: [one(value) for value in values]
    return one


def _map_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _scalar(field: Any) -> Convert:
    """The converter of one value of ``field`` (a message, an enum or a scalar)."""
    from google.protobuf.descriptor import FieldDescriptor as _FIELD  # noqa: N814

    kind = field.cpp_type
    if kind == _FIELD.CPPTYPE_MESSAGE:
        return _message
    if kind == _FIELD.CPPTYPE_ENUM:
        return _enum(field)
    if kind == _FIELD.CPPTYPE_STRING:
        if field.type == _FIELD.TYPE_BYTES:
            return _bytes
        return str
    if kind == _FIELD.CPPTYPE_BOOL:
        return bool
    if kind in (_FIELD.CPPTYPE_INT64, _FIELD.CPPTYPE_UINT64):
        return str
    if kind == _FIELD.CPPTYPE_FLOAT:
        return _float
    if kind == _FIELD.CPPTYPE_DOUBLE:
        return _double
    return _same


def _same(value: Any) -> Any:
    return value


def _bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("utf-8")


def _special_float(value: float) -> str | None:
    if math.isinf(value):
        return "-Infinity" if value < 0.0 else "Infinity"
    if math.isnan(value):
        return "NaN"
    return None


def _float(value: float) -> Any:
    from google.protobuf.internal import type_checkers

    special = _special_float(value)
    return special if special is not None else type_checkers.ToShortestFloat(value)


def _double(value: float) -> Any:
    special = _special_float(value)
    return special if special is not None else value


def _enum(field: Any) -> Convert:
    enum_type = field.enum_type
    if enum_type.full_name == "google.protobuf.NullValue":
        return lambda _value: None
    if any(_printer()._GetJsonEnumValueOption(v) is not None for v in enum_type.values):  # noqa: SLF001
        return _unplanned  # JSON names of its own: the printer knows them
    names = {number: value.name for number, value in enum_type.values_by_number.items()}
    closed = enum_type.is_closed

    def convert(number: int) -> Any:
        name = names.get(number)
        if name is not None:
            return name
        if closed:
            raise _Unplanned  # the printer raises what it raises for it
        return number

    return convert


def _unplanned(_value: Any) -> Any:
    raise _Unplanned


def _default(field: Any) -> Callable[[], Any]:
    """A maker of the default a field without presence is printed with when unset."""
    from google.protobuf import json_format

    if json_format._IsMapEntry(field):  # noqa: SLF001
        return dict
    if field.is_repeated:
        return list
    printed = _printer()._FieldToJsonObject(field, field.default_value)  # noqa: SLF001
    return lambda: printed
