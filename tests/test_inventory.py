"""Inventories as people already have them: readiness YAML, Ansible INI and YAML, plain host lists.

The Ansible INI and YAML fixtures describe the same estate, so they must give
the same targets; every malformed file is a one-line error with file and line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from readiness.catalog import default_catalog
from readiness.errors import UsageError
from readiness.inventory import inventory_targets, load_inventory
from readiness.targets import Target

INVENTORIES = Path(__file__).resolve().parents[1] / "fixtures" / "inventories"
CATALOG = default_catalog()


def targets(name: str, limit: str | None = None) -> dict[str, Target]:
    found = inventory_targets(INVENTORIES / name, limit, CATALOG.roles, CATALOG.scenarios)
    return {t.name or t.host: t for t in found}


def test_readiness_yaml_defaults_groups_and_host_fields() -> None:
    found = targets("estate.yaml")
    assert list(found) == ["c66-web02", "rhel67-db01", "web01.contoso.local", "web02.contoso.local",
                           "web03.contoso.local", "sles11sp3-erp02.contoso.local", "master-target"]
    c66 = found["c66-web02"]
    assert (c66.scheme, c66.host, c66.user, c66.port) == ("ssh", "10.20.1.23", "asr-probe", None)
    assert c66.options == {"key": "~/.ssh/asr_probe_ed25519", "become": "yes"}
    assert c66.roles == ("protected-linux",) and c66.uri == "ssh://asr-probe@10.20.1.23"
    rhel = found["rhel67-db01"]
    assert rhel.port == 2222 and rhel.scenarios == ("vmware-to-azure",)
    sles = found["sles11sp3-erp02.contoso.local"]
    assert sles.user == "root" and sles.options == {"key": "~/.ssh/sles_root"}  # group says become: false
    master = found["master-target"]
    assert master.uri == "ssh://admin@10.20.9.9:2200" and master.roles == ("master-target",)


def test_ansible_ini_and_yaml_give_the_same_targets() -> None:
    ini = targets("ansible-hosts.ini")
    yml = targets("ansible-hosts.yaml")
    shared = ["jump01.contoso.local", "c66-web02", "rhel67-db01", "web01.contoso.local", "web03.contoso.local",
              "sles11sp3-erp02.contoso.local"]
    for name in shared:
        a, b = ini[name], yml[name]
        assert (a.host, a.user, a.port, a.options.get("become"), a.roles) == \
               (b.host, b.user, b.port, b.options.get("become"), b.roles), name
    assert ini["c66-web02"].host == "10.20.1.23" and ini["c66-web02"].user == "centos"  # host vars win
    assert ini["rhel67-db01"].user == "asr" and ini["rhel67-db01"].port == 2222  # group vars fill in
    assert ini["rhel67-db01"].options["become"] == "yes"
    assert "become" not in ini["sles11sp3-erp02.contoso.local"].options
    assert ini["jump01.contoso.local"].port == 2201
    # [all:vars] reaches every host; a quoted value keeps its space.
    assert ini["ol65"].options["key"] == "/home/me/keys/ol 65.pem" and ini["ol65"].port == 2022
    assert ini["web02.contoso.local"].options["key"] == "~/.ssh/asr_ed25519"


def test_plain_host_list() -> None:
    found = targets("hosts.txt")
    assert [t.uri for t in found.values()] == ["ssh://c66-web02.contoso.local", "ssh://rhel67-db01.contoso.local:2222",
                                              "ssh://root@sles11sp3-erp02.contoso.local"]
    assert load_inventory(INVENTORIES / "hosts.txt").format == "hosts"


@pytest.mark.parametrize(("pattern", "expected"), [
    ("sles", ["sles11sp3-erp02.contoso.local"]),
    ("el6:!web*", ["c66-web02", "rhel67-db01", "ol65"]),
    ("linux:&web0[12]*", ["web01.contoso.local", "web02.contoso.local"]),
    ("jump01.contoso.local,sles", ["jump01.contoso.local", "sles11sp3-erp02.contoso.local"]),
    ("all:!linux", ["jump01.contoso.local"]),
])
def test_limit_patterns(pattern: str, expected: list[str]) -> None:
    assert sorted(targets("ansible-hosts.ini", pattern)) == sorted(expected)


@pytest.mark.parametrize(("name", "line", "message"), [
    ("bad-header.ini", 3, "bad section header '[web:vars'"),
    ("vars-no-value.ini", 2, "[web:vars] wants key=value, got 'ansible_user'"),
    ("host-token.ini", 2, "host 'web1': expected key=value, got 'ansible_port'"),
    ("broken.yaml", 5, "invalid YAML inventory"),
    ("unknown-field.yaml", 4, "host entry: unknown field 'colour'"),
    ("bad-port.yaml", 4, "host 'b': port 'ssh' is not a number"),
    ("cycle.ini", 1, "is its own descendant"),
    ("unknown-child.ini", 1, "group 'a' names unknown child group 'missing'"),
    ("backwards-range.ini", 2, "host range 'web[05:01]' runs backwards"),
    ("unknown-role.yaml", 3, "unknown role 'protected-amiga'"),
])
def test_malformed_inventories_name_file_and_line(name: str, line: int, message: str) -> None:
    path = INVENTORIES / "malformed" / name
    with pytest.raises(UsageError) as caught:
        inventory_targets(path, None, CATALOG.roles, CATALOG.scenarios)
    text = str(caught.value)
    assert text.startswith(f"{path}:{line}: "), text
    assert message in text, text


def test_cli_exit_2_one_line_for_a_malformed_inventory_and_an_empty_limit() -> None:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    bad = INVENTORIES / "malformed" / "unknown-field.yaml"
    proc = subprocess.run([sys.executable, "-m", "readiness.cli", "scan", "-i", str(bad)], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and f"{bad}:4:" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "readiness.cli", "scan", "-i", str(INVENTORIES / "hosts.txt"),
                           "--limit", "nothing-like-this"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2 and "--limit 'nothing-like-this' matches no host" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "readiness.cli", "scan", "-i", "/nonexistent.ini"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2 and proc.stderr == "readiness: error: cannot read inventory /nonexistent.ini: " \
                                                   "No such file or directory\n"
