"""Property-based tests of the vSphere answer reader (checks/vsphere/soapxml.py + model.py), with hypothesis.

Seeded from real answers: the simulator's RetrievePropertiesEx pages for a small estate, captured through the
rewriting proxy while readiness scans it.  Each example mutates one seed (bytes cut or overwritten, the XML
declaration's encoding replaced, or one element removed, repeated, retyped, emptied or buried under deep
nesting) and runs the whole reading path: parse, objects, then the facts of every VM, host, datastore and pod.
The property: the path is total.  It ends with facts that are plain JSON, or with a TargetError that names the
call; it never raises anything else, and an unmutated seed reads to the facts the scan itself produced.
Bounded: a fixed number of examples, no example database written to the tree.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readiness.checks.vsphere import model, soapxml
from readiness.errors import TargetError
from readiness.scan import collect_target
from readiness.settings import ScanSettings
from readiness.targets import parse_target
from tests import vcsim
from tests.vcsim.estate import VMS, build_estate
from tests.vcsim.hostile import RewritingProxy

pytestmark = pytest.mark.skipif(vcsim.available() is not None, reason=str(vcsim.available()))

BOUNDED = settings(max_examples=120, deadline=None, database=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SAMPLE = ("app-clean-01", "big-disk-vm", "snap-vm", "legacy-mw-vm", "bus-sharing-vm", "two-nic-vm", "mt-lsi")
BUILDERS = {"VirtualMachine": model.vm_facts, "HostSystem": model.host_facts,
            "Datastore": model.datastore_facts, "StoragePod": model.pod_facts}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The inventory pages the simulator sent for a small estate, and the VM facts the scan made of them."""
    work = tmp_path_factory.mktemp("vcsim-props")
    with vcsim.Simulator(work, args=["-vc-version", "6.0.0", "-esx-version", "6.0.0"]) as sim:
        build_estate(sim, work / "nfs-free", vms={name: VMS[name] for name in SAMPLE})
        assert sim.ca is not None
        issued = sim.ca.issue("localhost", "127.0.0.1")
        proxy = RewritingProxy(sim.port, sim.bundle, issued.cert, issued.key)
        proxy.start()
        saved = os.environ.get("READINESS_VCENTER_PASSWORD")
        os.environ["READINESS_VCENTER_PASSWORD"] = sim.password
        try:
            uri = sim.uri().replace(f":{sim.port}", f":{proxy.port}")
            targets = collect_target(parse_target(uri), ScanSettings(ca_bundle=sim.bundle, vm_patterns=["*"]), [])
        finally:
            proxy.stop()
            if saved is None:
                os.environ.pop("READINESS_VCENTER_PASSWORD")
            else:
                os.environ["READINESS_VCENTER_PASSWORD"] = saved
    assert targets[0].error is None
    pages = [body for body in proxy.seen if b'<obj type="VirtualMachine">' in body]
    assert pages
    return {"pages": pages, "vms": {t.facts["vm"]["moref"]: t.facts["vm"] for t in targets if "vm" in t.facts}}


def read(body: bytes, keep: dict[str, Any] | None = model.KEEP) -> list[tuple[str, str, dict[str, Any]]]:
    """The whole reading path of one page: parse, objects, facts; TargetError is the only allowed failure.

    With the collector's pruning (model.KEEP) or without it (every field converted, every depth visited).
    """
    root = soapxml.parse(body, "RetrievePropertiesEx")
    out = []
    for kind, moid, props in soapxml.objects(root, frozenset(model.IGNORED_DEVICES), keep):
        gaps = model.property_gaps("vm", model.VM_PROPERTY_FACTS, props)
        facts = BUILDERS[kind](moid, props) if kind in BUILDERS else {"name": model.leaf(props.get("name"))}
        json.dumps([facts, gaps])  # plain JSON, whatever the answer held
        out.append((kind, moid, facts))
    return out


def read_totally(body: bytes) -> None:
    for keep in (model.KEEP, None):
        try:
            read(body, keep)
        except TargetError as exc:
            assert str(exc).startswith("vCenter's answer to RetrievePropertiesEx cannot be read: "), exc


def test_unmutated_seed_reads_to_the_scans_facts(seeds: dict[str, Any]) -> None:
    read_back = {moid: facts for page in seeds["pages"] for kind, moid, facts in read(page)
                 if kind == "VirtualMachine"}
    assert set(read_back) == set(seeds["vms"])
    for moid, facts in read_back.items():
        scanned = seeds["vms"][moid]
        for key in ("name", "guest_id", "disk_enable_uuid", "disk_count", "controllers", "snapshot_count", "nic_count"):
            assert facts[key] == scanned[key], (moid, key)


@BOUNDED
@given(data=st.data())
def test_byte_mutations_never_escape(seeds: dict[str, Any], data: st.DataObject) -> None:
    body = data.draw(st.sampled_from(seeds["pages"]))
    kind = data.draw(st.sampled_from(["truncate", "overwrite", "encoding"]))
    if kind == "truncate":
        body = body[: data.draw(st.integers(0, len(body)))]
    elif kind == "overwrite":
        at = data.draw(st.integers(0, len(body)))
        body = body[:at] + data.draw(st.binary(min_size=1, max_size=64)) + body[at + 64:]
    else:
        name = data.draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20))
        body = body.replace(b'encoding="UTF-8"', f'encoding="{name}"'.encode(), 1)
    read_totally(body)


XSI = soapxml.XSI_TYPE
TYPES = ["ArrayOfVirtualDevice", "ArrayOfOptionValue", "VirtualDisk", "VirtualLsiLogicController", "OptionValue",
         "xsd:string", "xsd:int", "ManagedObjectReference", "ArrayOfString", ""]


@BOUNDED
@given(data=st.data())
def test_element_mutations_never_escape(seeds: dict[str, Any], data: st.DataObject) -> None:
    root = ET.fromstring(data.draw(st.sampled_from(seeds["pages"])))
    parents = [(parent, child) for parent in root.iter() for child in parent]
    parent, child = data.draw(st.sampled_from(parents))
    action = data.draw(st.sampled_from(["remove", "repeat", "retype", "empty", "text", "bury"]))
    if action == "remove":
        parent.remove(child)
    elif action == "repeat":
        for _ in range(data.draw(st.integers(1, 3))):
            parent.append(child)
    elif action == "retype":
        child.set(XSI, data.draw(st.sampled_from(TYPES)))
    elif action == "empty":
        for grandchild in list(child):
            child.remove(grandchild)
    elif action == "text":
        for grandchild in list(child):
            child.remove(grandchild)
        child.text = data.draw(st.text(max_size=30))
    else:  # bury the element under nesting past the limit (ET.tostring itself recurses: 5000 is tested below)
        depth = data.draw(st.sampled_from([1, 5, soapxml.MAX_DEPTH - 5, soapxml.MAX_DEPTH + 5, 400]))  # 5000: below
        index = list(parent).index(child)
        parent.remove(child)
        top = wrapper = ET.Element(child.tag)
        for _ in range(depth - 1):
            wrapper = ET.SubElement(wrapper, child.tag)
        wrapper.append(child)
        parent.insert(index, top)
    read_totally(ET.tostring(root))


@pytest.mark.parametrize("depth", [soapxml.MAX_DEPTH - 10, soapxml.MAX_DEPTH + 1, 5000])
def test_nesting_depth_is_a_gap_not_a_crash(seeds: dict[str, Any], depth: int) -> None:
    """A VM whose device list is buried `depth` levels deep: read as far as the limit, then a gap on its facts."""
    body = seeds["pages"][0]
    marker = b"<name>config.hardware.device</name>"
    start = body.index(marker)
    close = body.index(b">", body.index(b"<val", start)) + 1
    mutated = body[:close] + b"<x>" * depth + b"</x>" * depth + body[close:]
    vms = [(moid, facts) for kind, moid, facts in read(mutated, None) if kind == "VirtualMachine"]
    root = soapxml.parse(mutated, "RetrievePropertiesEx")
    gaps = [model.property_gaps("vm", model.VM_PROPERTY_FACTS, props)
            for kind, _, props in soapxml.objects(root, frozenset()) if kind == "VirtualMachine"]
    buried = [g for g in gaps if g]
    if depth <= soapxml.MAX_DEPTH:
        assert buried == []
    else:
        assert len(buried) == 1 and set(buried[0]) >= {"vm.disks", "vm.controllers", "vm.nics"}
        assert "nested deeper than" in buried[0]["vm.disks"]
    assert len(vms) == len([k for k in gaps])  # every VM still read


def test_reader_does_not_depend_on_the_file_system(tmp_path: Path) -> None:
    """parse() takes bytes only: an answer naming an external entity or file is not fetched."""
    body = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>'
    try:
        root = soapxml.parse(body, "RetrievePropertiesEx")
    except TargetError:
        return
    assert "root:" not in (root.text or "")
