"""Distribution kernel strings compared as their package managers order them, and matched against the kernel
specs a support matrix publishes (readiness/kernel.py, readiness/support.py)."""

from __future__ import annotations

from typing import Any

import pytest

from readiness.kernel import compare_kernels, compare_versions, kernel_matches, parse_kernel, uek_release
from readiness.matrix import load_matrix
from readiness.support import linux_support, version_in, version_listed, windows_release


@pytest.mark.parametrize("kernel, version, flavor", [
    ("4.12.14-95.29-default", "4.12.14-95.29", "default"),
    ("3.10.0-1160.el7.x86_64", "3.10.0-1160.el7", "el"),
    ("5.4.0-42-generic", "5.4.0-42", "generic"),
    ("4.14.35-1902.3.2.el7uek.x86_64", "4.14.35-1902.3.2.el7uek", "uek"),
    ("2.6.39-400.211.1.el6uek.x86_64", "2.6.39-400.211.1.el6uek", "uek"),
    ("4.18.0-305.30.1.el8_4.x86_64", "4.18.0-305.30.1.el8_4", "el"),
    ("5.10.0-0.deb10.22-cloud-amd64", "5.10.0-0.deb10.22", "cloud-amd64"),
    ("3.16.0-0.bpo.4-amd64", "3.16.0-0.bpo.4", "amd64"),
    ("4.15.0-1023-azure", "4.15.0-1023", "azure"),
    ("5.14.21-150400.14.49-azure", "5.14.21-150400.14.49", "azure"),
    ("3.0.101-63-default", "3.0.101-63", "default"),
])
def test_kernel_strings_split_into_version_and_flavour(kernel: str, version: str, flavor: str) -> None:
    parsed = parse_kernel(kernel)
    assert (parsed.version, parsed.flavor) == (version, flavor)


@pytest.mark.parametrize("left, right, expected", [
    ("3.10.0-1160.el7.x86_64", "3.10.0-957.el7.x86_64", 1),       # 1160 > 957 (a string compare says less)
    ("3.13.0-24-generic", "3.13.0-170-generic", -1),
    ("4.18.0-305.30.1.el8_4.x86_64", "4.18.0-305.el8.x86_64", 1),  # one more segment before the tag
    ("4.18.0-305.30.1.el8_4.x86_64", "4.18.0-305.30.1.el8_4.x86_64", 0),
    ("4.18.0-348.7.1.el8_5.x86_64", "4.18.0-348.5.1.el8_5.x86_64", 1),
    ("4.9.0-0.bpo.12-amd64", "4.9.0-0.bpo.4-amd64", 1),
    ("4.12.14-95.29-default", "4.12.14-122.37-default", -1),
    ("5.4.0-42-generic", "5.4.0-42-generic", 0),
    ("4.4.0-148-generic", "4.4.0-21-generic", 1),
])
def test_kernel_comparison_is_numeric_per_segment(left: str, right: str, expected: int) -> None:
    assert compare_kernels(left, right) == expected
    assert compare_kernels(right, left) == -expected


@pytest.mark.parametrize("left, right, expected", [("1.0a", "1.0.1", -1), ("1.0", "1.0.0", -1), ("2", "10", -1)])
def test_rpm_order_numbers_beat_letters_and_longer_wins(left: str, right: str, expected: int) -> None:
    assert compare_versions(left, right) == expected


@pytest.mark.parametrize("kernel, release", [
    ("2.6.32-300.3.1.el6uek.x86_64", "uek1"), ("2.6.39-400.211.1.el6uek.x86_64", "uek2"),
    ("3.8.13-118.el6uek.x86_64", "uek3"), ("4.1.12-124.48.6.el7uek.x86_64", "uek4"),
    ("4.14.35-1902.3.2.el7uek.x86_64", "uek5"), ("5.4.17-2136.300.7.el8uek.x86_64", "uek6"),
    ("2.6.32-431.el6.x86_64", "rhck"), ("5.4.0-42-generic", None),
])
def test_oracle_kernel_families(kernel: str, release: str | None) -> None:
    assert uek_release(kernel) == release


@pytest.mark.parametrize("spec, kernel, expected", [
    ({"from": "3.13.0-24-generic", "to": "3.13.0-170-generic"}, "3.13.0-24-generic", True),   # both ends inclusive
    ({"from": "3.13.0-24-generic", "to": "3.13.0-170-generic"}, "3.13.0-170-generic", True),
    ({"from": "3.13.0-24-generic", "to": "3.13.0-170-generic"}, "3.13.0-171-generic", False),
    ({"from": "3.13.0-24-generic", "to": "3.13.0-170-generic"}, "3.13.0-23-generic", False),
    ({"from": "3.13.0-24-generic", "to": "3.13.0-170-generic"}, "3.13.0-100-lowlatency", False),  # other flavour
    ({"from": "4.9.0-0.bpo.4-amd64", "to": "4.9.0-0.bpo.12-amd64"}, "4.9.0-0.bpo.7-amd64", True),
    ({"min": "4.18.0-305.30.1.el8_4.x86_64"}, "4.18.0-305.30.1.el8_4.x86_64", True),
    ({"min": "4.18.0-305.30.1.el8_4.x86_64"}, "4.18.0-305.25.1.el8_4.x86_64", False),
    ({"min": "4.18.0-305.30.1.el8_4.x86_64"}, "4.18.0-305.el8.x86_64", False),
    ({"min": "4.18.0-305.30.1.el8_4.x86_64"}, "4.18.0-372.9.1.el8.x86_64", True),
    ("5.4.0-147-generic", "5.4.0-147-generic", True),
    ("5.4.0-147-generic", "5.4.0-147-azure", False),
    ({"flavor": "default"}, "4.12.14-95.29-default", True),
    ({"flavor": "default"}, "4.12.14-16.130-azure", False),
    ({"uek": ["uek3"]}, "3.8.13-118.el6uek.x86_64", True),
    ({"uek": ["uek3"]}, "2.6.39-400.211.1.el6uek.x86_64", False),
    ({"rhck": True}, "2.6.32-431.el6.x86_64", True),
    ({"rhck": True}, "3.8.13-118.el6uek.x86_64", False),
])
def test_published_kernel_specs(spec: Any, kernel: str, expected: bool) -> None:
    assert kernel_matches(spec, kernel) is expected


@pytest.mark.parametrize("spec, version, expected", [
    ("6.7", "6.7", True), ("6.7", "6.70", False), ("5.2..5.11", "5.10", True), ("5.2..5.11", "5.1", False),
    ("5.2..5.11", "5.12", False), ("14.04.*", "14.04.5", True), ("14.04.*", "14.040", False),
    ("9.1..9.13", "9.0", False), ("9.1..9.13", "9.13", True), ("12.1..12.5", "12.5", True),
])
def test_release_version_specs(spec: str, version: str, expected: bool) -> None:
    assert version_listed(spec, version) is expected


@pytest.mark.parametrize("versions, text, expected", [
    (["6.0", "5.5"], "6.0.0", True), (["6.0", "5.5"], "6.5.0", False), (["6.0"], "6.0", True),
    (["8.0", "7.0"], "8.0.2", True), (["6.5"], "6.50.1", False), (["6.5"], None, False),
])
def test_product_version_lines(versions: list[str], text: str | None, expected: bool) -> None:
    assert version_in(versions, text) is expected


PUBLISHED = load_matrix("published-2023-09").entries["linux.protected_linux_releases"].value
SEED = load_matrix("seed").entries["linux.protected_linux_releases"].value


@pytest.mark.parametrize("distribution, version, kernel, release, kernel_ok", [
    # Ubuntu: ranges and lists per release, exactly as published
    ("ubuntu", "14.04", "3.13.0-24-generic", True, True),
    ("ubuntu", "14.04", "3.13.0-171-generic", True, False),
    ("ubuntu", "16.04", "4.15.0-142-generic", True, True),
    ("ubuntu", "16.04", "4.15.0-143-generic", True, False),
    ("ubuntu", "18.04", "5.4.0-150-generic", True, True),
    ("ubuntu", "18.04", "5.4.0-42-generic", True, False),      # not in the 9.51-9.55 lists
    ("ubuntu", "20.04", "5.15.0-1041-azure", True, True),
    ("ubuntu", "22.04", "5.15.0-76-generic", True, True),
    ("ubuntu", "22.04", "5.15.0-74-generic", True, False),      # 74 is skipped in the list
    ("ubuntu", "23.04", "6.2.0-20-generic", False, False),
    # SLES: stock -default kernels, and only the listed -azure ones
    ("sles", "12.4", "4.12.14-95.29-default", True, True),
    ("sles", "12.5", "4.12.14-16.130-azure", True, True),
    ("sles", "12.5", "4.12.14-16.131-azure", True, False),
    ("sles", "15.4", "5.14.21-150400.14.52-azure", True, True),
    ("sles", "15.4", "5.14.21-150400.24.46-default", True, True),
    ("sles", "11.4", "3.0.101-63-default", True, True),          # no kernel list published for SLES 11
    ("sles", "12.0", "3.12.28-4-default", False, True),          # SLES 12 GA is not listed
    # RHEL/CentOS 8.4/8.5 minimum kernels
    ("rhel", "8.4", "4.18.0-305.30.1.el8_4.x86_64", True, True),
    ("rhel", "8.4", "4.18.0-305.el8.x86_64", True, False),
    ("centos", "8.5", "4.18.0-348.7.1.el8_5.x86_64", True, True),
    ("centos", "8.5", "4.18.0-348.el8.x86_64", True, False),
    ("centos", "7.9", "3.10.0-1160.el7.x86_64", True, True),
    ("rhel", "9.2", "5.14.0-284.11.1.el9_2.x86_64", False, True),
    # Oracle: RHCK or UEK3-5; any UEK on 8.1
    ("oracle", "7.9", "4.14.35-1902.3.2.el7uek.x86_64", True, True),
    ("oracle", "7.9", "5.4.17-2136.300.7.el7uek.x86_64", True, False),
    ("oracle", "8.1", "5.4.17-2011.0.7.el8uek.x86_64", True, True),
    ("oracle", "6.5", "2.6.39-400.211.1.el6uek.x86_64", True, False),
    # Debian: point releases and kernel lists
    ("debian", "8.11", "3.16.0-11-amd64", True, True),
    ("debian", "9.0", "4.9.0-3-amd64", False, False),     # unlisted: judged on every Debian list too
    ("debian", "9.13", "4.9.0-13-amd64", True, True),
    ("debian", "11.7", "5.10.0-23-cloud-amd64", True, True),
    ("debian", "11.7", "5.10.0-11-amd64", True, False),
])
def test_published_linux_matrix(distribution: str, version: str, kernel: str, release: bool,
                                kernel_ok: bool) -> None:
    verdict = linux_support(PUBLISHED, distribution, version, kernel)
    assert (verdict["release"], verdict["kernel"]) == (release, kernel_ok), verdict
    assert verdict["supported"] is (release and kernel_ok)
    assert (verdict["reason"] == "") is verdict["supported"]


@pytest.mark.parametrize("distribution, version, kernel, supported", [
    ("centos", "6.6", "2.6.32-504.el6.x86_64", True),
    ("centos", "7.9", "3.10.0-1160.el7.x86_64", False),
    ("oracle", "6.5", "3.8.13-16.2.1.el6uek.x86_64", True),
    ("oracle", "6.5", "2.6.39-400.211.1.el6uek.x86_64", False),
    ("oracle", "6.6", "2.6.39-400.211.1.el6uek.x86_64", False),   # unlisted release: judged on every list too
    ("sles", "11.3", "3.0.76-0.11-default", True),
    ("ubuntu", "14.04", "3.13.0-24-generic", False),
])
def test_seed_linux_matrix(distribution: str, version: str, kernel: str, supported: bool) -> None:
    assert linux_support(SEED, distribution, version, kernel)["supported"] is supported


def test_a_missing_kernel_fails_only_where_kernels_are_listed() -> None:
    assert linux_support(SEED, "centos", "6.6", None)["supported"] is True
    assert linux_support(SEED, "oracle", "6.5", None)["kernel"] is False


WINDOWS = load_matrix("published-2023-09").entries["windows.protected_windows_releases"].value


@pytest.mark.parametrize("version, build, sp, product, name", [
    ("10.0", 17763, 0, "server", "Windows Server 2019"),
    ("10.0", 20348, 0, "domain-controller", "Windows Server 2022"),
    ("10.0", 18363, 0, "server", None),                     # a Semi-Annual Channel server build
    ("10.0", 19045, 0, "workstation", "Windows 10"),
    ("6.1", 7601, 1, "server", "Windows Server 2008 R2 SP1"),
    ("6.1", 7600, 0, "server", None),
    ("6.0", 6002, 2, "server", None),                       # 2008 SP2: migration only
])
def test_published_windows_releases(version: str, build: int, sp: int, product: str, name: str | None) -> None:
    assert windows_release(WINDOWS, version, build, sp, product) == name
