"""Every field classified: the field tables of the Cloud Run kinds cover every field of the
installed client's Service, Job and WorkerPool types (and every type they hold), and every
property Google's published discovery document gives those types; a compared or normalized field
names a catalogue rule of its kind."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import googleapiclient
import pytest
from google.cloud import run_v2

from driftcheck.kinds import kind_named
from driftcheck.kinds.fields import FieldTable, Treatment

ROOTS = {"service": run_v2.Service, "job": run_v2.Job, "worker-pool": run_v2.WorkerPool}
DISCOVERY = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "run.v2.json"
PREFIX = "GoogleCloudRunV2"


def installed_types(root: Any) -> dict[str, set[str]]:
    """Every message type reachable from ``root`` in the installed client: its field names (as
    ``to_dict`` writes them). Map entries and protobuf's own types (Duration) are values."""
    found: dict[str, set[str]] = {}

    def walk(descriptor: Any) -> None:
        if descriptor.full_name.startswith("google.protobuf."):
            return
        if descriptor.GetOptions().map_entry or descriptor.name in found:
            return
        found[descriptor.name] = {field.name for field in descriptor.fields}
        for field in descriptor.fields:
            if field.message_type is not None:
                walk(field.message_type)

    walk(root.pb().DESCRIPTOR)
    return found


def discovery_types(root: str) -> dict[str, set[str]]:
    """Every schema reachable from ``root`` in the discovery document: its properties."""
    schemas = json.loads(DISCOVERY.read_text())["schemas"]
    found: dict[str, set[str]] = {}

    def walk(name: str) -> None:
        if name in found or not name.startswith(PREFIX):
            return
        properties: dict[str, Any] = schemas[name].get("properties", {})
        found[name.removeprefix(PREFIX)] = {_snake(key) for key in properties}
        for spec in properties.values():
            ref = spec.get("$ref") or (spec.get("items") or {}).get("$ref")
            if ref:
                walk(ref)

    walk(PREFIX + root)
    return found


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def table_of(kind: str) -> FieldTable:
    table = kind_named(kind).fields
    assert table is not None, f"{kind} has no field table"
    return table


@pytest.mark.parametrize("kind", sorted(ROOTS))
def test_every_field_of_the_installed_client_is_classified(kind: str) -> None:
    table = table_of(kind)
    for message, fields in installed_types(ROOTS[kind]).items():
        assert message in table, f"{message} is not in the field table"
        missing = fields - set(table[message])
        assert not missing, f"{message}: unclassified fields {sorted(missing)}"


@pytest.mark.parametrize("kind", sorted(ROOTS))
def test_every_field_the_api_publishes_is_classified(kind: str) -> None:
    """Fields the client does not know yet are kept from the JSON, so they need a treatment
    too; types reached only through such a field are kept whole with it."""
    table = table_of(kind)
    known = installed_types(ROOTS[kind])
    for message, fields in discovery_types(ROOTS[kind].__name__).items():
        if message not in known:
            continue
        # The client spells fields that are Python keywords with an underscore (``type_``).
        classified = {name.rstrip("_") for name in table[message]}
        missing = fields - classified
        assert not missing, f"{message}: published fields without a treatment {sorted(missing)}"


def _rule(note: str, treatment: Treatment) -> str:
    """The catalogue rule a table entry names (``how [rule]`` for a normalized field)."""
    if treatment is Treatment.COMPARED:
        return note
    return note.rsplit("[", 1)[-1].rstrip("]") if note.endswith("]") else "other"


@pytest.mark.parametrize("kind", sorted(ROOTS))
def test_compared_fields_name_a_catalogue_rule(kind: str) -> None:
    # The types inside a template are shared by every Cloud Run kind: their rules may be any's.
    rules = {rule.name for name in ROOTS for rule in kind_named(name).catalogue}
    rules |= {"other", "labels"}
    table = table_of(kind)
    for message in installed_types(ROOTS[kind]):
        for name, field in table[message].items():
            if field.treatment is Treatment.VOLATILE:
                assert field.note, f"{message}.{name}: volatile without a reason"
            else:
                assert _rule(field.note, field.treatment) in rules, f"{kind}: {message}.{name}"
