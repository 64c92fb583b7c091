"""The registry of resource kinds: every kind folder is registered, and every registered kind
brings a collector, a normalizer and catalogue rules that only judge its own resources."""

from __future__ import annotations

import importlib
import pkgutil

import driftcheck.kinds
from driftcheck.kinds import KINDS, ResourceKind, kind_of
from driftcheck.severity import catalogue_rule

SHARED_PACKAGES = {"cloud_run"}  # what several Cloud Run kinds share: not a kind of its own


def test_every_kind_folder_is_registered() -> None:
    declared = []
    for module in pkgutil.iter_modules(driftcheck.kinds.__path__):
        if not module.ispkg or module.name in SHARED_PACKAGES:
            continue
        package = importlib.import_module(f"driftcheck.kinds.{module.name}")
        kinds = [value for value in vars(package).values() if isinstance(value, ResourceKind)]
        assert len(kinds) == 1, f"driftcheck/kinds/{module.name} declares {len(kinds)} kinds"
        declared.append(kinds[0])
    assert sorted(k.name for k in declared) == sorted(k.name for k in KINDS)
    assert len({k.name for k in KINDS}) == len(KINDS)


def test_every_registered_kind_collects_normalizes_and_judges() -> None:
    for kind in KINDS:
        assert callable(kind.collect), kind.name
        assert callable(kind.normalize), kind.name
        assert kind.catalogue, f"{kind.name} has no catalogue rules"
        for rule in kind.catalogue:
            # A kind's rules judge its own resources only: kinds never shadow each other.
            assert rule.resource == kind.resources, (kind.name, rule.name)
            assert rule.advice is not None and rule.advice.why, (kind.name, rule.name)


def test_a_finding_is_judged_by_its_own_kind() -> None:
    for kind in KINDS:
        first = kind.catalogue[0]
        path = first.path.replace("*", "x")
        resource = kind.resources.replace("*", "eu/x")
        assert kind_of(resource) is kind
        assert catalogue_rule(resource, path).name == first.name, kind.name


def test_later_stages_only_follow_earlier_ones() -> None:
    stages = sorted({kind.stage for kind in KINDS})
    assert stages == list(range(len(stages)))


def test_identity_knows_which_kinds_are_regional() -> None:
    from driftcheck.identity import REGIONAL_KINDS

    assert {kind.name for kind in KINDS if kind.regional} == REGIONAL_KINDS
