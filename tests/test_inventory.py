"""Inventories as people already have them: readiness YAML, Ansible INI and YAML, plain host lists.

The Ansible INI and YAML fixtures describe the same estate, so they must give
the same targets; every malformed file is a one-line error with file and line.
"""

from __future__ import annotations

import json
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


# -- WinRM hosts, inventory directories, roles, host ranges --------------------------------------------------


@pytest.mark.parametrize("name", ["winrm.ini", "winrm.yaml"])
def test_ansible_connection_winrm_gives_winrm_targets(name: str) -> None:
    found = targets(name)
    ms01, ps01, hv01, dc01 = (found[f"{h}.contoso.local"] for h in ("ms01", "ps01", "hv01", "dc01"))
    assert (ms01.scheme, ms01.host, ms01.port, ms01.options) == ("winrm", "10.20.0.10", None, {"auth": "ntlm"})
    assert ms01.user == "CONTOSO\\asr-scan"
    # Ansible's rule: port 5985 without ansible_winrm_scheme means plain HTTP
    assert (ps01.port, ps01.options) == (5985, {"auth": "ntlm", "transport": "http"})
    # a list of transports: the first one we speak; the host's scheme beats the port rule
    assert (hv01.port, hv01.options) == (None, {"auth": "kerberos", "transport": "http"})
    assert (dc01.port, dc01.options) == (5986, {"auth": "credssp"})
    assert found["mt01.contoso.local"].scheme == "ssh" and found["mt01.contoso.local"].user == "root"
    assert all("key" not in t.options and "become" not in t.options for t in (ms01, ps01, hv01, dc01))


def test_inventory_directory_reads_hosts_files_group_vars_and_host_vars() -> None:
    found = targets("ansible-dir")
    assert list(found) == ["web01", "web02", "ms01.contoso.local", "mt01"]  # hosts.orig is a backup: skipped
    web01, web02, ms01, mt01 = found.values()
    # group_vars/all.yml, then group_vars/linux/ (a directory of files)
    assert (web01.user, web01.port, web01.options) == ("asr", 2222, {"key": "~/.ssh/asr_linux", "become": "yes"})
    assert web01.roles == ("protected-linux",) and web01.scenarios == ("vmware-to-azure",)
    # host_vars/web02.yml beats the host's own vars in the inventory file
    assert (web02.host, web02.user) == ("10.20.1.2", "from-host-vars")
    # group_vars/windows.yml: a WinRM management server
    assert (ms01.scheme, ms01.port, ms01.user, ms01.roles) == ("winrm", 5986, "CONTOSO\\asr-scan",
                                                               ("management-server",))
    # failback is a child of linux (hosts.yml): its group_vars beat linux's and all's
    assert (mt01.host, mt01.user, mt01.roles) == ("10.20.9.9", "root", ("master-target",))


@pytest.mark.parametrize("name", ["roles.yaml", "roles.ini"])
def test_server_roles_per_host(name: str) -> None:
    found = targets(name)
    assert {n: t.roles for n, t in found.items()} == {
        "ms01": ("management-server",), "ps01": ("process-server",), "mt01": ("master-target",),
        "web01": ("protected-linux",)}


def test_roles_reach_the_report(tmp_path: Path) -> None:
    """Inventory roles decide what is judged: an unreachable master target is reported in that role."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[failback]\nmt01 ansible_host=127.0.0.1 ansible_port=1 readiness_roles=master-target\n"
                         "[servers]\nps01 ansible_host=127.0.0.1 ansible_port=1 readiness_roles=process-server\n")
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "readiness.cli", "scan", "-i", str(inventory), "--connect-timeout",
                           "2", "--reporter", f"json:{out}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    report = json.loads(out.read_text())
    assert {t["name"]: t["roles"] for t in report["targets"]} == {"mt01": ["master-target"],
                                                                 "ps01": ["process-server"]}


def test_host_ranges_expand_lazily_and_are_capped() -> None:
    from readiness.inventory import MAX_HOSTS, Inventory, expand_range

    names = expand_range("web[0001:1000]-[a:b]", Path("x"), 1)
    assert next(names) == "web0001-a" and next(names) == "web0001-b"  # a generator, not a list
    assert sum(1 for _ in expand_range("web[1:100000]", Path("x"), 1)) == MAX_HOSTS
    with pytest.raises(UsageError, match=r"^x:3: host range 'web\[1:100001\]' names 100,001 hosts"):
        next(expand_range("web[1:100001]", Path("x"), 3))
    big = Inventory(path=Path("x"), format="hosts")
    for name in expand_range("h[1:100000]", Path("x"), 1):
        big.add_host(name, 1, "all", {})
    with pytest.raises(UsageError, match=r"^x:2: the inventory names more than 100,000 hosts"):
        big.add_host("one-more", 2, "all", {})


@pytest.mark.parametrize(("name", "line", "message"), [
    ("huge-range.ini", 2, "names 100,000,000 hosts; an inventory may name at most 100,000"),
    ("docker.ini", 2, "ansible_connection 'docker' is not supported"),
    ("winrm-cert.ini", 2, "ansible_winrm_transport 'certificate' is not supported"),
    ("dir-bad-vars/group_vars/web.yml", 2, "invalid YAML"),
])
def test_more_malformed_inventories(name: str, line: int, message: str) -> None:
    source = INVENTORIES / "malformed" / name
    path = source.parents[1] if "group_vars" in name else source
    with pytest.raises(UsageError) as caught:
        inventory_targets(path, None, CATALOG.roles, CATALOG.scenarios)
    assert str(caught.value).startswith(f"{source}:{line}: ") and message in str(caught.value), caught.value


def test_short_limit_flag() -> None:
    proc = subprocess.run([sys.executable, "-m", "readiness.cli", "scan", "-i", str(INVENTORIES / "hosts.txt"),
                           "-l", "nothing-like-this"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--limit 'nothing-like-this' matches no host" in proc.stderr
