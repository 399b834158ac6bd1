"""The shape each probe section must have, and the one function that makes a section fit it or refuse it.

Why a shape layer: the section builders in parse.py read nested values (`disk["partitions"][0]["type"]`).
Real targets hand them what PowerShell 2.0 makes of WMI: a `[null]` item where a failed lookup sat in
`@(...)`, one object where a list was meant (PowerShell unrolls one-element collections), a number where
a string was expected. `conform` turns every section into exactly the declared shape first: missing keys
become None (or [] for lists), None items leave lists, a lone object becomes a one-item list, numbers
and strings convert where the meaning is unambiguous. Anything else raises ShapeError naming the path,
and that section (only that one) becomes a gap with the reason. The builders then never see a surprise.
"""

from __future__ import annotations

from typing import Any


class ShapeError(ValueError):
    """A section's value does not have the declared shape."""


class DictOf:
    """A JSON object with free keys (registry-derived maps), every value of one shape."""

    def __init__(self, item: Any) -> None:
        self.item = item


class Maybe:
    """A value that may be null on purpose (null means "could not be read", [] means "none")."""

    def __init__(self, item: Any) -> None:
        self.item = item


ANY = object()  #: any JSON value, kept as it is (registry values whose type Windows does not fix)


def _scalar(value: Any, kind: type, path: str) -> Any:
    if isinstance(value, (dict, list)):
        raise ShapeError(f"{path}: expected {kind.__name__}, got {type(value).__name__}")
    if kind is str:
        return value if isinstance(value, str) else ("true" if value is True else "false" if value is False
                                                     else str(value))
    if kind is bool:
        if isinstance(value, bool):
            return value
        if value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ShapeError(f"{path}: expected a boolean, got {value!r:.40}")
    if isinstance(value, bool):
        raise ShapeError(f"{path}: expected a number, got {value!r}")
    try:
        number = float(value) if kind is float else value if isinstance(value, int) else None
        if number is None:
            as_float = float(value)
            if not as_float.is_integer():
                raise ValueError
            number = int(as_float)
    except (TypeError, ValueError, OverflowError):
        raise ShapeError(f"{path}: expected {kind.__name__}, got {value!r:.40}") from None
    if kind is float and number != number:  # NaN never reaches the facts
        raise ShapeError(f"{path}: not a number")
    return number


def conform(value: Any, shape: Any, path: str = "") -> Any:
    """`value` in exactly `shape`, or ShapeError."""
    if shape is ANY:
        return value
    if isinstance(shape, Maybe):
        return None if value is None else conform(value, shape.item, path)
    if isinstance(shape, list):
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]  # PowerShell unrolled a one-item list
        return [conform(item, shape[0], f"{path}[{i}]") for i, item in enumerate(items) if item is not None]
    if value is None:
        return None
    if isinstance(shape, DictOf):
        if not isinstance(value, dict):
            raise ShapeError(f"{path}: expected an object, got {type(value).__name__}")
        return {str(k): conform(v, shape.item, f"{path}.{k}") for k, v in value.items()}
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise ShapeError(f"{path or 'section'}: expected an object, got {type(value).__name__}")
        return {key: conform(value.get(key), sub, f"{path}.{key}" if path else key) for key, sub in shape.items()}
    return _scalar(value, shape, path)


_PROGRAM = {"name": str, "version": str, "publisher": str}
_NAMED_VERSION = {"name": str, "version": str}
_CHECK = {"ok": bool, "ms": float, "error": str, "host": str, "port": int}
_HTTP = {"status": int, "ms": float, "error": str, "date": str, "epoch": int, "tls_error": bool}
_ENDPOINT = {"id": str, "requirement": str, "url": str, "pattern": str, "host": str, "port": int, "proxy": str,
             "dns": {"ok": bool, "addresses": [str], "ms": float, "error": str, "server": str},
             "tcp": {"ok": bool, "ms": float, "error": str}, "tls": ANY, "http": _HTTP}
_PRODUCT = {"key": str, "install_dir": str, "version": str, "product": str, "post_install": str,
            "configuration": str}

#: Section name -> the shape parse.py's builders read.
SHAPES: dict[str, Any] = {
    "probe": {"version": int, "user": str, "user_sid": str, "elevated": bool, "in_administrators": bool,
              "groups_source": str, "integrity_sid": str, "computer": str, "ps_version": str,
              "clr_version": str, "epoch": int},
    "os": {"caption": str, "version": str, "build": str, "service_pack": int, "csd_version": str,
           "architecture": str, "sku": int, "product_type": int, "edition_id": str, "installation_type": str,
           "system_drive": str, "windows_directory": str, "os_language": int, "locale_lcid": str,
           "install_date": str, "last_boot": str, "hostname": str, "dns_hostname": str, "domain": str,
           "part_of_domain": bool, "domain_role": int, "manufacturer": str, "model": str,
           "logical_processors": int, "memory_visible_bytes": int, "memory_installed_bytes": int,
           "product_uuid": str},
    "locale": {"system_locale_lcid": str, "system_locale": str, "install_language_lcid": str,
               "installed_ui_culture": str, "current_culture": str, "current_ui_culture": str},
    "adapters": {"adapters": [{"index": int, "description": str, "mac": str, "dhcp": bool, "addresses": [str],
                               "subnets": [str], "gateways": [str], "dns_servers": [str]}]},
    "listeners": {"tcp": [{"address": str, "port": int}],
                  "owners": [{"address": str, "port": int, "pid": int, "process": str}]},
    "storage": {"disks": [{"index": int, "model": str, "size": int, "interface": str, "media": str, "pnp": str,
                           "serial": str, "signature": int, "scsi_port": int, "scsi_target": int, "scsi_lun": int,
                           "storage": {"size": int, "bus_type": int, "clustered": bool, "guid": str,
                                       "partition_style": int},
                           "partitions": [{"index": int, "type": str, "size": int, "offset": int, "boot": bool,
                                           "primary": bool, "letters": [str]}]}],
                "mpio": [{"name": str, "paths": int, "serial": str}],
                "volumes": [{"letter": str, "label": str, "file_system": str, "capacity": int, "free": int,
                             "drive_type": int, "boot": bool, "system": bool, "page_file": bool,
                             "bitlocker": {"protection": int, "lock_status": int}}],
                "bitlocker_available": bool},
    "firmware": {"firmware": str, "source": str},
    "software": {"programs": [_PROGRAM],
                 "dotnet": [{"key": str, "installed": bool, "version": str, "sp": int, "release": int}],
                 "powercli_snapins": [_NAMED_VERSION], "powercli_modules": [_NAMED_VERSION],
                 "server_features": [{"id": int, "name": str}], "features_available": bool},
    "services": {"services": [{"name": str, "display_name": str, "state": str, "start_mode": str, "path": str}]},
    "hotfixes": {"ids": [str], "cbs_ids": [str], "cbs_error": str},
    "security": {"local_account_token_filter_policy": ANY, "enable_lua": ANY, "deny_ts_connections": ANY,
                 "deny_ts_source": str, "firewall_profiles_current": int, "firewall_enabled": DictOf(bool),
                 "firewall_groups": DictOf(bool),
                 "firewall_port_rules": [{"name": str, "local_ports": str, "profiles": int, "grouping": str}],
                 "firewall_error": str,
                 "firewall_policy": {"profiles": DictOf({"enable_firewall": int, "allow_local_policy_merge": int}),
                                     "rules": [str]}},
    "cluster": {"service": bool, "cluster": {"name": str, "nodes": [str], "shared_volumes": [str],
                                             "resources": [{"name": str, "type": str, "state": int, "dhcp": int,
                                                            "disk_signature": int, "disk_guid": str}]}},
    "hyperv": {"vmms": {"state": str, "start_mode": str}, "namespace": str, "vms": Maybe([{"name": str, "state": int}]),
               "replica": {"recovery_server_enabled": bool, "authentication": int, "http_port": int,
                           "https_port": int}},
    "vmm": {"server": bool, "version": str, "service_state": str,
            "clouds": Maybe([{"name": str, "host_groups": [str], "capability_profiles": [str]}]),
            "run_as_accounts": Maybe([str]), "error": str},
    "time": {"type": str, "ntp_server": str, "service_state": str, "source": str, "time_zone": str,
             "bias_minutes": int, "epoch": int},
    "proxy": {"winhttp_settings": str, "per_user": ANY,
              "wininet": {"enable": ANY, "server": str, "override": str, "auto_config_url": str}},
    "agents": {"upload_threads_per_vm": ANY},
    "iscsi": {"available": bool, "sessions": [{"target": str, "connections": int, "devices": [int]}]},
    "teams": {"available": bool, "teams": [{"name": str, "mode": int, "load_balancing": int, "members": [str]}]},
    "asr": {"agent": _PRODUCT, "agent_config": DictOf(str), "agent_config_error": str, "config_server": _PRODUCT,
            "provider_registration_values": int},
    "net": {"proxy_mode": str, "tls_protocols": str, "endpoints": [_ENDPOINT], "outbound_ports": [_CHECK],
            "management_server": str, "lan": [_CHECK], "vcenter": _CHECK, "time": _ENDPOINT},
}
