"""Settings Windows takes from two places, merged the way Windows merges them; and the ASR components.

Firewall: HNetCfg.FwPolicy2 answers from the local policy store. A domain's Group Policy writes a second
store (HKLM\\SOFTWARE\\Policies\\Microsoft\\WindowsFirewall: per-profile EnableFirewall and
AllowLocalPolicyMerge, rules under FirewallRules as "v2.10|Action=Allow|Dir=In|LPort=8083|..."
strings). Windows enforces the policy store's profile settings over the local ones, and applies local
rules only while AllowLocalPolicyMerge is not 0. A probe that reads only the local store reports a
firewall the domain has long since changed.

Hot fixes: Win32_QuickFixEngineering lists what Windows Update installed as a hot fix; an update slipstreamed
into the image or delivered inside a later rollup is only in the servicing stack's package store (CBS).
"""

from __future__ import annotations

from typing import Any

#: Firewall profile bit (NET_FW_PROFILE2) -> the policy store's key for it.
PROFILE_KEYS = {"1": "DomainProfile", "2": "StandardProfile", "4": "PublicProfile"}
PROFILE_BITS = {"domain": 1, "private": 2, "public": 4}
#: Rule groups the rules read, by their language-neutral resource string (EmbedCtxt in policy rules).
GROUPS = {"file_and_printer_sharing": "@FirewallAPI.dll,-28502", "wmi": "@FirewallAPI.dll,-34251",
          "remote_desktop": "@FirewallAPI.dll,-28752"}
ALL_PROFILES = 0x7FFFFFFF
#: Services of a configuration server (and its built-in process server) that ASR documents.
CONFIG_SERVER_SERVICES = ("tmansvc", "processserver", "processservermonitor", "cxprocessserver", "inmage pushinstall",
                          "logupload", "dra", "obengine", "w3svc", "mysql")


def policy_rule(text: str) -> dict[str, Any] | None:
    """A policy-store rule string as a port rule, or None when it is not an active inbound TCP allow."""
    fields: dict[str, list[str]] = {}
    for part in text.split("|")[1:]:
        key, sep, value = part.partition("=")
        if sep:
            fields.setdefault(key.lower(), []).append(value)

    def first(key: str) -> str:
        return (fields.get(key) or [""])[0]

    if (first("action").lower() != "allow" or first("dir").lower() != "in" or first("active").upper() != "TRUE"
            or first("protocol") != "6" or not fields.get("lport")):
        return None
    profiles = sum(PROFILE_BITS.get(p.lower(), 0) for p in fields.get("profile") or []) or ALL_PROFILES
    return {"name": first("name") or None, "local_ports": ",".join(fields["lport"]), "profiles": profiles,
            "grouping": first("embedctxt"), "source": "group-policy"}


def firewall(security: dict[str, Any]) -> dict[str, Any]:
    """The effective firewall: local store merged with the Group Policy store, and where it came from."""
    policy = security.get("firewall_policy") or {}
    profiles = policy.get("profiles") or {}
    current = security.get("firewall_profiles_current") or 0
    rules = [r for r in (policy_rule(text) for text in policy.get("rules") or []) if r]
    configured = bool(rules) or any(v.get("enable_firewall") is not None or v.get("allow_local_policy_merge")
                                    is not None for v in profiles.values() if v)
    merge = all(((profiles.get(key) or {}).get("allow_local_policy_merge") != 0)
                for bit, key in PROFILE_KEYS.items() if not current or current & int(bit))
    local_enabled = security.get("firewall_enabled") or {}
    enabled = {}
    for bit, key in PROFILE_KEYS.items():
        forced = (profiles.get(key) or {}).get("enable_firewall")
        enabled[bit] = bool(forced) if forced is not None else local_enabled.get(bit)
    local_rules = [dict(r, source="local") for r in security.get("firewall_port_rules") or []] if merge else []
    local_groups = security.get("firewall_groups") or {}
    groups = {name: bool((merge and local_groups.get(name)) or any(r["grouping"] == ref for r in rules))
              for name, ref in GROUPS.items() if name in local_groups or rules}
    return {"groups": groups, "profiles_enabled": enabled or None, "current_profiles": security.get(
                "firewall_profiles_current"),
            "error": security.get("firewall_error"), "port_rules": rules + local_rules,
            "source": ("group-policy+local" if merge else "group-policy") if configured else "local",
            "policy_rules": len(rules)}


def port_open(rules: list[dict[str, Any]], port: int) -> list[str]:
    """Names of enabled inbound allow rules whose LocalPorts cover the port ("8083", "8080-8090", "*")."""
    names = []
    for rule in rules:
        for item in str(rule.get("local_ports") or "").split(","):
            item = item.strip()
            low, _, high = item.partition("-")
            if item == "*" or (low.isdigit() and int(low) <= port <= int(high if high.isdigit() else low)):
                names.append(rule.get("name"))
                break
    return names


def hotfixes(section: dict[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    """Update IDs from both places, and where each was found (qfe, cbs)."""
    sources: dict[str, list[str]] = {}
    for origin, key in (("qfe", "ids"), ("cbs", "cbs_ids")):
        for kb in section.get(key) or []:
            kb = kb.strip().upper()
            if kb and origin not in sources.setdefault(kb, []):
                sources[kb].append(origin)
    return sorted(sources), dict(sorted(sources.items()))


def _conf_value(conf: dict[str, str], key: str) -> str | None:
    value = (conf.get(key) or "").strip()
    return value if value and value.upper() != "NULL" else None


def mobility_service(program: dict[str, Any] | None, asr: dict[str, Any] | None) -> dict[str, Any]:
    """The unified agent: installed (programs or its registry key), version, and the configuration server
    it is registered to, from drscout.conf [vxagent.transport] HostName / Port / Https."""
    agent = (asr or {}).get("agent")
    conf = (asr or {}).get("agent_config") or {}
    port = _conf_value(conf, "vxagent.transport.port")
    https = _conf_value(conf, "vxagent.transport.https")
    return {
        "installed": bool((program or {}).get("installed") or agent),
        "name": (program or {}).get("name") or ((agent or {}).get("product") or None),
        "version": (agent or {}).get("version") or (program or {}).get("version"),
        "cs_address": _conf_value(conf, "vxagent.transport.hostname"),
        "cs_port": int(port) if port and port.isdigit() else None,
        "https": {"1": True, "0": False}.get(https or ""),
        "role": _conf_value(conf, "vxagent.role"),
        "configured": ((agent or {}).get("configuration") or "").lower() == "succeeded" if agent else None,
        "config_error": (asr or {}).get("agent_config_error"),
    }


def config_server(services: dict[str, dict[str, Any]] | None, asr: dict[str, Any] | None) -> dict[str, Any]:
    """A configuration server here: its product key or services, their states, and the Provider's registration."""
    present = {name: state["state"] for name, state in (services or {}).items() if name in CONFIG_SERVER_SERVICES}
    installed = bool((asr or {}).get("config_server")) or "tmansvc" in present
    registered = None
    if installed and asr is not None:
        registered = present.get("dra") == "Running" and bool(asr.get("provider_registration_values"))
    return {"installed": installed, "services": present, "registered": registered}
