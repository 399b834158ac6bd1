"""Collectors emit only facts the contract (checks/facts.yaml) names, and the catalog keeps its IDs."""

from __future__ import annotations

from pathlib import Path

import yaml

from readiness.rulepack import known_facts
from readiness.rules import CATALOG_PATH
from readiness.scan import collect_target
from readiness.settings import ScanSettings
from readiness.targets import parse_target

SHARED_CATALOG = Path(__file__).resolve().parents[2] / "shared" / "spec" / "requirements.yaml"


def undeclared(facts: dict) -> list[str]:  # type: ignore[type-arg]
    contract = known_facts()
    wrong = []
    for namespace, values in facts.items():
        if namespace not in contract:
            wrong.append(namespace)
            continue
        wrong += [f"{namespace}.{key}" for key in values if "*" not in contract[namespace]
                  and key not in contract[namespace]]
    return wrong


def test_local_collection_stays_inside_the_contract() -> None:
    settings = ScanSettings(roles=["management-server", "master-target", "protected-linux"])
    settings.network.endpoints = []
    settings.network.outbound_ports = []
    settings.network.timeout_s = 1
    [target] = collect_target(parse_target("local://"), settings, [])
    assert target.error is None
    assert {"os", "host", "network", "storage", "sshd", "packages"} <= set(target.facts)
    assert undeclared(target.facts) == []


def test_catalog_keeps_every_shared_id() -> None:
    ours = {r["id"]: r for r in yaml.safe_load(CATALOG_PATH.read_text())["requirements"]}
    if SHARED_CATALOG.exists():  # beside a checkout of the project, as CI has it
        shared = {r["id"] for r in yaml.safe_load(SHARED_CATALOG.read_text())["requirements"]}
        assert shared <= set(ours), shared - set(ours)
    assert len(ours) >= 98
