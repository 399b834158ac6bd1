"""Distribution kernel strings, compared the way their package managers compare them.

Support matrices publish kernels as distributions name them (`3.13.0-24-generic to 3.13.0-170-generic`,
`4.18.0-305.30.1.el8_4.x86_64 or higher`, `4.12.14-16.130-azure`, `5.10.0-0.deb10.22-cloud-amd64`), and
`uname -r` reports them the same way.  A plain dotted-number comparison gets them wrong (`0.bpo.4` is not
`0.4`; `-azure` and `-generic` builds of one version are different kernels), so a kernel is split into its
version and its flavour, versions are compared segment by segment as rpm and dpkg do (numbers numerically,
letters alphabetically, a number newer than letters), and a published range or list only ever covers
kernels of its own flavour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_ARCH = re.compile(r"\.(x86_64|i[3-6]86|aarch64|ppc64le|s390x)$")
_EL_FLAVOR = re.compile(r"\.el(\d+)(?:_\d+)?(uek)?$")
#: Oracle's Unbreakable Enterprise Kernel releases by their upstream base version.
UEK_RELEASES = (("2.6.32", "uek1"), ("2.6.39", "uek2"), ("3.8.", "uek3"), ("4.1.", "uek4"), ("4.14.", "uek5"),
                ("5.4.", "uek6"), ("5.15.", "uek7"))


@dataclass(frozen=True)
class Kernel:
    """A kernel string split into the part that orders builds and the flavour that separates them."""

    text: str
    version: str  # e.g. "3.13.0-24", "4.18.0-305.30.1.el8_4", "3.16.0-0.bpo.4"
    flavor: str   # e.g. "generic", "azure", "default", "amd64", "cloud-amd64", "el", "uek", ""


def parse_kernel(text: str) -> Kernel:
    """Split `uname -r` output (or a published kernel) into version and flavour."""
    text = text.strip()
    body = _ARCH.sub("", text)
    el = _EL_FLAVOR.search(body)
    if el:
        return Kernel(text, body, "uek" if el.group(2) else "el")
    parts = body.split("-")
    cut = len(parts)
    while cut > 2 and re.match(r"[A-Za-z]", parts[cut - 1]):  # trailing words: "generic", "cloud-amd64"
        cut -= 1
    return Kernel(text, "-".join(parts[:cut]), "-".join(parts[cut:]))


def _segments(version: str) -> list[str]:
    return re.findall(r"\d+|[A-Za-z]+", version)


def compare_versions(left: str, right: str) -> int:
    """-1, 0 or 1, comparing as rpm's rpmvercmp does (dpkg agrees for kernel strings).

    Numeric segments compare as numbers (`1160` > `957`), alphabetic ones as text, a numeric segment is
    newer than an alphabetic one, and when one runs out first the longer one is newer
    (`4.18.0-305.30.1` > `4.18.0-305`).
    """
    a, b = _segments(left), _segments(right)
    for x, y in zip(a, b, strict=False):  # a shared prefix; the longer one decides below
        if x.isdigit() and y.isdigit():
            nx, ny = int(x), int(y)
            if nx != ny:
                return -1 if nx < ny else 1
        elif x.isdigit() != y.isdigit():
            return 1 if x.isdigit() else -1
        elif x != y:
            return -1 if x < y else 1
    return (len(a) > len(b)) - (len(a) < len(b))


def compare_kernels(left: str, right: str) -> int:
    """Compare two kernel strings by their versions (flavours are not ordered: check them first)."""
    return compare_versions(parse_kernel(left).version, parse_kernel(right).version)


def uek_release(kernel: str) -> str | None:
    """uek1..uek7 for an Oracle UEK kernel, "rhck" for a Red Hat compatible one, None for others."""
    parsed = parse_kernel(kernel)
    if parsed.flavor == "uek":
        for base, name in UEK_RELEASES:
            if kernel.startswith(base):
                return name
        return "uek"
    return "rhck" if parsed.flavor == "el" else None


def kernel_matches(spec: str | dict[str, Any], kernel: str) -> bool:
    """Whether a kernel is covered by one published kernel spec.

    Specs (a string or one key each, as a matrix file writes them): `K` or `{exact: K}`, `{from: A, to: B}`
    (inclusive, same flavour as A), `{min: K}` ("K or higher", same flavour), `{flavor: F}` (every stock kernel
    of flavour F, e.g. SLES's "default"), `{uek: [uek3, ...]}` / `{rhck: true}` (Oracle's kernel families).
    """
    if isinstance(spec, str):
        spec = {"exact": spec}
    parsed = parse_kernel(kernel)
    if "exact" in spec:
        want = parse_kernel(spec["exact"])
        return want.flavor == parsed.flavor and compare_versions(parsed.version, want.version) == 0
    if "from" in spec:
        low, high = parse_kernel(spec["from"]), parse_kernel(spec["to"])
        return (parsed.flavor == low.flavor and compare_versions(parsed.version, low.version) >= 0
                and compare_versions(parsed.version, high.version) <= 0)
    if "min" in spec:
        low = parse_kernel(spec["min"])
        return parsed.flavor == low.flavor and compare_versions(parsed.version, low.version) >= 0
    if "flavor" in spec:
        return parsed.flavor == spec["flavor"]
    if "uek" in spec:
        return uek_release(kernel) in spec["uek"] or ("uek" in spec["uek"] and parsed.flavor == "uek")
    if "rhck" in spec:
        return bool(spec["rhck"]) and uek_release(kernel) == "rhck"
    raise ValueError(f"unknown kernel spec {spec!r}")


SPEC_KEYS = frozenset({"exact", "from", "min", "flavor", "uek", "rhck"})


def describe_spec(spec: str | dict[str, Any]) -> str:
    """A kernel spec as a person reads it in a message."""
    if isinstance(spec, str):
        return spec
    if "exact" in spec:
        return str(spec["exact"])
    if "from" in spec:
        return f"{spec['from']} to {spec['to']}"
    if "min" in spec:
        return f"{spec['min']} or later"
    if "flavor" in spec:
        return f"any stock -{spec['flavor']} kernel"
    if "uek" in spec:
        return "/".join(u.upper() for u in spec["uek"])
    return "the Red Hat compatible kernel"
