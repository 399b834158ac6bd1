"""The estate: requirements that no single machine can answer (capacity, policy groups, the failback set).

While targets stream through judging, each leaves a small digest behind (OS, roles, root and boot file
systems, a few packages, its VMM cluster); after the last one, the digests become the facts of one more
target, `estate://`, with role `estate`, judged by rules like any other.  Memory grows by a few hundred bytes
per machine, not by its facts.

Shaping, not judging, happens here: which machines a master target fails back (the same OS family, R:23 and
F:141: a Windows master target for Windows machines, a Linux one for Linux machines), which distribution
family a release belongs to, which VMM servers share a cluster.  Every list is sorted by name, so the verdict
never depends on the order in which the scan finished.
"""

from __future__ import annotations

import math
from typing import Any

from readiness.facts import TargetFacts

#: Packages an estate rule asks about (MT-LNX-006: ReiserFS/XFS support on a Linux master target).
WATCHED_PACKAGES = ("kmod-reiserfs", "reiserfs-utils", "xfsprogs")
PROTECTED_ROLES = {"protected-linux", "protected-windows", "vmware-vm"}
SERVER_ROLES = {"management-server", "process-server"}
#: Releases whose versions are comparable with each other: RHEL, CentOS and Oracle Linux share the
#: Enterprise Linux version line (CentOS 6.6 is RHEL 6.6); any other distribution is its own family.
#: The decision is written in the catalog entry of MT-OS-001.
DISTRIBUTION_FAMILIES = {"rhel": "el", "centos": "el", "oracle": "el", "ol": "el", "redhat": "el"}


def _mount_fs(facts: dict[str, Any], mountpoint: str) -> str | None:
    for mount in (facts.get("storage") or {}).get("block_mounts") or []:
        if mount.get("mountpoint") == mountpoint:
            return mount.get("fstype")
    return None


def _gap(target: TargetFacts, path: str) -> str | None:
    """The recorded reason a fact (or the section holding it) was not collected, or None."""
    for gap, reason in target.gaps.items():
        if path == gap or path.startswith(gap + "."):
            return f"{gap} was not collected on {target.name}: {reason}"
    return None


def distribution_family(distribution: str | None) -> str | None:
    """The family whose versions compare with each other (el for RHEL/CentOS/Oracle Linux)."""
    if not distribution:
        return None
    return DISTRIBUTION_FAMILIES.get(distribution.lower(), distribution.lower())


def digest(target: TargetFacts) -> dict[str, Any] | None:
    """What the estate rules need to know of one machine; None for a target that could not be read."""
    if target.error:
        return None
    facts = target.facts
    os_facts = facts.get("os") or {}
    vm = facts.get("vm") or {}
    vmm = facts.get("vmm") or {}
    cluster = facts.get("cluster") or {}
    installed = (facts.get("packages") or {}).get("installed") or {}
    return {
        "name": target.name,
        "uri": target.uri,
        "roles": list(target.roles),
        "os_family": os_facts.get("family") or vm.get("os_family"),
        "distribution": os_facts.get("distribution"),
        "distribution_family": distribution_family(os_facts.get("distribution")),
        "version": os_facts.get("version"),
        "os_name": os_facts.get("name") or vm.get("guest_full_name"),
        "root_fs": _mount_fs(facts, "/"),
        "boot_fs": _mount_fs(facts, "/boot") or _mount_fs(facts, "/"),
        "installed": [p for p in WATCHED_PACKAGES if p in installed],
        "guest_view": bool(os_facts),  # facts from inside the guest, not only vCenter's view
        "vmm_server": vmm.get("server") is True,
        "provider_version": vmm.get("provider_version"),
        "provider_gap": _gap(target, "vmm.provider_version"),
        "cluster": cluster.get("name") if cluster.get("node") else None,
        "cluster_nodes": list(cluster.get("nodes") or []),
        "perf": _perf_digest(facts.get("perf")),
    }


def _perf_digest(perf: dict[str, Any] | None) -> dict[str, Any] | None:
    """The measured load of a VM (vCenter statistics), for the estate's capacity figures."""
    if not perf:
        return None
    change = perf.get("peak_daily_change_gb")
    return {"peak_iops": perf.get("peak_iops"), "p95_iops": perf.get("p95_iops"),
            "daily_change_gb": change if change is not None else perf.get("daily_change_gb"),
            "peak_churn_mbps": perf.get("peak_churn_mbps"), "stars": perf.get("stars")}


#: CAP-STG-001: requests per second one standard storage account takes (l.89); CAP-PS-001: what one process
#: server carries (l.88, l.104); MS-SIZE-001's cache column by daily change (l.102-104), GB read as GiB.
ACCOUNT_IOPS = 20000
PS_MACHINES, PS_CHANGE_GB = 200, 2048
CACHE_ROWS_GB = ((500, 300), (1024, 600), (2048, 1024))


def capacity(digests: list[dict[str, Any]]) -> dict[str, Any]:
    """Estate totals from the VMs' measured statistics: storage accounts, process servers, cache, bandwidth.

    Shaping only: the figures follow the seed's own arithmetic (accounts = total IOPS / 20,000; a process server
    per 200 machines or 2 TB a day); rules/estate.yaml judges them.
    """
    vms = [d for d in digests if "vmware-vm" in d["roles"]]
    measured = [d for d in vms if d["perf"] and d["perf"]["peak_iops"] is not None]
    if not measured:
        return {"measured": 0, "unmeasured": [d["name"] for d in vms], "vms": len(vms)}
    iops = sum(d["perf"]["peak_iops"] for d in measured)
    change = sum(d["perf"]["daily_change_gb"] or 0 for d in measured)
    servers = max(-(-len(vms) // PS_MACHINES), -(-math.ceil(change) // PS_CHANGE_GB), 1)
    per_server = change / servers
    cache = next((gb for limit, gb in CACHE_ROWS_GB if per_server <= limit), CACHE_ROWS_GB[-1][1])
    return {
        "vms": len(vms), "measured": len(measured), "unmeasured": [d["name"] for d in vms if d not in measured],
        "total_peak_iops": round(iops, 1), "storage_accounts": max(1, math.ceil(iops / ACCOUNT_IOPS)),
        "total_daily_change_gb": round(change, 1), "process_servers_needed": servers,
        "cache_gb_per_process_server": cache,
        # keeping up with the change: GB/day x 1024 MB x 8 bit / 86,400 s; the peak adds every VM's peak churn
        "bandwidth_mbps": round(change * 1024 * 8 / 86400, 1),
        "peak_bandwidth_mbps": round(sum(d["perf"]["peak_churn_mbps"] or 0 for d in measured) * 8, 1),
        "min_stars": min(d["perf"]["stars"] or 1 for d in measured),
    }


def _by_name(digests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(digests, key=lambda d: (str(d["name"]).lower(), d["uri"]))


def failback_pairs(master_targets: list[dict[str, Any]], guests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every master target with every kind of protected machine it fails back: one entry per pair.

    A master target fails back the machines of its OS family (R:23: a replication group is all Windows or
    all Linux and shares one master target; F:79/F:141: a Linux master target for Linux VMs).  Each pair
    carries both sides, so a rule can compare them item by item (JMESPath has no reference to an outer
    item).  Machines alike in everything the rules compare (distribution family, version, root and boot file
    systems) share one entry listing their names, so an estate of 10,000 machines on a dozen releases makes
    a dozen pairs per master target, not 10,000.
    """
    kinds: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for machine in guests:
        key = (machine["os_family"], machine["distribution_family"], machine["version"], machine["os_name"],
               machine["root_fs"], machine["boot_fs"])
        kinds.setdefault(key, []).append(machine)
    pairs = []
    for master in master_targets:
        for (os_family, family, version, os_name, root_fs, boot_fs), alike in kinds.items():
            machines = [m["name"] for m in alike if m["uri"] != master["uri"]]
            if os_family != master["os_family"] or not machines:
                continue
            pairs.append({
                "master_target": master["name"], "mt_os_name": master["os_name"],
                "mt_family": master["distribution_family"], "mt_version": master["version"],
                "mt_installed": master["installed"], "machines": machines, "os_name": os_name, "family": family,
                "version": version, "root_fs": root_fs, "boot_fs": boot_fs,
            })
    return pairs


def vmm_clusters(digests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """VMM servers grouped by failover cluster (H:110-112), and why a node's Provider version is unknown."""
    clusters: dict[str, list[dict[str, Any]]] = {}
    for d in digests:
        if d["vmm_server"] and d["cluster"]:
            clusters.setdefault(str(d["cluster"]).lower(), []).append(d)
    shaped, gaps = [], []
    for key in sorted(clusters):
        nodes = _by_name(clusters[key])
        scanned = {str(n["name"]).split(".")[0].lower() for n in nodes}
        listed = sorted({str(name) for n in nodes for name in n["cluster_nodes"]}, key=str.lower)
        shaped.append({"cluster": nodes[0]["cluster"],
                       "nodes": [{"name": n["name"], "provider_version": n["provider_version"]} for n in nodes],
                       "not_scanned": [name for name in listed if name.split(".")[0].lower() not in scanned]})
        gaps += [n["provider_gap"] for n in nodes if n["provider_gap"]]
    return shaped, gaps


def estate_target(digests: list[dict[str, Any]]) -> TargetFacts:
    """The estate as one more target to judge."""
    digests = _by_name(digests)
    guests = [d for d in digests if d["guest_view"]]
    protected = [d for d in digests if PROTECTED_ROLES & set(d["roles"])]
    protected_guests = [d for d in guests if {"protected-linux", "protected-windows"} & set(d["roles"])]
    master_targets = [d for d in guests if "master-target" in d["roles"]]
    clusters, cluster_gaps = vmm_clusters(digests)
    families = {m["os_family"] for m in master_targets}
    pairs = failback_pairs(master_targets, protected_guests)
    unread = sorted({name for p in pairs for names, version, family in (
        ([p["master_target"]], p["mt_version"], p["mt_family"]), (p["machines"], p["version"], p["family"]))
        if version is None or family is None for name in names})
    gaps = {}
    if unread:  # a version we do not know is not a version we may call older or newer
        gaps["estate.failback_pairs"] = f"the OS distribution or version of {', '.join(unread)} is not known"
    if cluster_gaps:
        gaps["estate.vmm_clusters"] = "; ".join(cluster_gaps)
    return TargetFacts(
        uri="estate://", name="estate", scheme="estate", roles=["estate"],
        facts={"estate": {
            "machines": digests,
            "protected_count": len({d["name"] for d in protected}),
            "process_servers": sum(1 for d in digests if SERVER_ROLES & set(d["roles"])),
            "protected_guests": protected_guests,
            "master_targets": master_targets,
            "failback_pairs": pairs,
            "no_master_target": [d["name"] for d in protected_guests if d["os_family"] not in families],
            "hyperv_hosts": [d for d in guests if "hyperv-host" in d["roles"]],
            "vmm_clusters": clusters,
            "capacity": capacity(digests),
        }},
        gaps=gaps,
    )
