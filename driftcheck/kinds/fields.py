"""Field tables: for every field of an API type, what driftcheck does with it.

Each field is *compared* (under a catalogue rule, which gives its severity and why it matters),
*normalized* (compared after being brought to one spelling; the entry says how) or *volatile*
(never compared; the entry says why). A test walks the installed client library's types and fails
on any field missing from its kind's table, so a field a new client brings cannot go unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Treatment(StrEnum):
    """What is done with a field."""

    COMPARED = "compared"
    NORMALIZED = "normalized"
    VOLATILE = "volatile"


@dataclass(frozen=True)
class Field:
    """A field's treatment; ``note`` is the catalogue rule (compared), how (normalized) or why
    (volatile)."""

    treatment: Treatment
    note: str


def compared(rule: str) -> Field:
    """Compared as read, under catalogue rule ``rule``."""
    return Field(Treatment.COMPARED, rule)


def normalized(how: str, rule: str = "") -> Field:
    """Compared once brought to one spelling (``how``), under catalogue rule ``rule``."""
    return Field(Treatment.NORMALIZED, f"{how} [{rule}]" if rule else how)


def volatile(why: str) -> Field:
    """Never compared, because ``why``."""
    return Field(Treatment.VOLATILE, why)


# Message type name -> field name -> treatment.
FieldTable = Mapping[str, Mapping[str, Field]]
