"""Support-matrix judgements: is this release (and its kernel) one the matrix lists?

Pure functions over a matrix entry's value and a few facts; rules call them through the expression
functions of readiness.expressions.  They never raise on odd facts (a missing kernel, an unknown
distribution): the answer then says what is not supported and why, and the engine's missing-fact
handling decides whether that is a failure or a gap.
"""

from __future__ import annotations

import re
from typing import Any

from readiness.kernel import describe_spec, kernel_matches, uek_release


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


def version_listed(spec: str, version: str) -> bool:
    """Whether a release version matches one published version spec.

    `"6.7"` is exact; `"7.*"` is any 7.x point release ("includes all 14.04.x"); `"5.2..5.11"` is an
    inclusive range compared numerically (so 5.10 is inside it, as a string comparison would not say).
    """
    if ".." in spec:
        low, _, high = spec.partition("..")
        return _numbers(low) <= _numbers(version) <= _numbers(high)
    if spec.endswith(".*"):
        return version == spec[:-2] or version.startswith(spec[:-1])
    return version == spec


def version_in(versions: list[str], text: str | None) -> bool:
    """Whether a product version ("6.0.0", "8.0.2") is in one of the listed lines ("6.0", "8.0")."""
    return text is not None and any(text == v or text.startswith(f"{v}.") for v in versions)


def _release_name(entry: dict[str, Any]) -> str:
    return entry.get("name") or f"{entry['distribution']} {', '.join(entry['versions'])}"


def linux_support(releases: list[dict[str, Any]], distribution: str | None, version: str | None,
                  kernel: str | None) -> dict[str, Any]:
    """The matrix's verdict on a Linux release and its running kernel.

    Returns {release, kernel, kernel_judged, supported, matched, reason}: `release` whether the
    distribution/version is listed; `kernel` whether the kernel is on the list of the matched release
    (true when the matrix publishes no kernel list for it); `kernel_judged` whether the matrix constrains
    kernels for this distribution at all (a release of it that is not listed is judged against every kernel
    list of the distribution, so an unlisted Oracle release on UEK2 still fails on its kernel).
    """
    same_dist = [e for e in releases if e["distribution"] == distribution]
    matched = next((e for e in same_dist if any(version_listed(v, version or "") for v in e["versions"])), None)
    kernel_judged = any(e.get("kernels") for e in same_dist)
    scope = [matched] if matched is not None else same_dist
    lists = [e["kernels"] for e in scope if e.get("kernels")]
    kernel_ok = not lists or (kernel is not None and any(kernel_matches(s, kernel) for ks in lists for s in ks))
    reason = ""
    if matched is None:
        listed = "; ".join(", ".join(e["versions"]) for e in same_dist)
        reason = (f"{distribution or 'unknown distribution'} {version or '?'} is not listed"
                  + (f" (listed {distribution} releases: {listed})" if listed else
                     f" (the matrix lists no {distribution or 'such'} release)"))
    if not kernel_ok:
        flavour = uek_release(kernel or "")
        wanted = "; ".join(describe_spec(s) for ks in lists for s in ks[:6]) + (" ..." if any(
            len(ks) > 6 for ks in lists) else "")
        reason = "; ".join(filter(None, [reason, (
            f"kernel {kernel or 'unknown'}{f' ({flavour.upper()})' if flavour else ''} is not among the kernels "
            f"published for {_release_name(matched) if matched else distribution}: {wanted}")]))
    return {"release": matched is not None, "kernel": kernel_ok, "kernel_judged": kernel_judged,
            "supported": matched is not None and kernel_ok,
            "matched": _release_name(matched) if matched else None, "reason": reason}


def windows_release(releases: list[dict[str, Any]], version: str | None, build: int | None,
                    service_pack: int | None, product_type: str | None) -> str | None:
    """The name of the listed Windows release this machine is, or None.

    An entry gives `version` (NT version, "6.3"), `product` (server: server or domain controller;
    workstation), optionally `builds` (Windows 10 / Server 2016+ share NT 10.0 and differ by build) and
    `min_service_pack`.
    """
    kind = "workstation" if product_type == "workstation" else "server"
    for entry in releases:
        if entry["version"] != version or entry.get("product", "server") != kind:
            continue
        if entry.get("builds") and build not in entry["builds"]:
            continue
        if (service_pack or 0) < entry.get("min_service_pack", 0):
            continue
        return str(entry["name"])
    return None
