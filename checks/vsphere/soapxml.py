"""The bulk inventory pass with pyVmomi's request side and ElementTree on the response.

Why: pyVmomi builds a typed Python object for each of the ~200 XML elements a VM
(with its device list) takes, in a pure-Python expat callback; measured on the
simulator that caps a scan at about 250 VMs/s, so 10,000 VMs took 40 s to parse.
Here pyVmomi still serializes the RetrievePropertiesEx / ContinueRetrievePropertiesEx
request and owns the session (cookie, TLS context, connection pool); only the
answer is read with the standard library's C XML parser (ElementTree, one page
at a time; pages are bounded by maxObjects) into plain dicts and lists, which is
all the collectors need.  Nothing about the vSphere types is guessed: arrays are
the elements whose xsi:type is ArrayOf..., everything else is a dict of child
elements or a leaf's text (a managed object reference is its ID).

The answer comes from a machine we do not control, so reading it is total: an
answer that is not XML, declares an encoding we cannot decode, or is cut short
is a TargetError naming the call; a property nested deeper than any vSphere type
(MAX_DEPTH) is left out of its object and reported in the object's "_gaps", so
one odd VM costs its own facts, not the scan.
"""

from __future__ import annotations

import contextlib
import gc
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from readiness.errors import TargetError

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

#: Deepest nesting a property value may have. The deepest vSphere values the collectors read (a snapshot tree,
#: a device's backing) sit a few dozen levels down; a deeper answer is hostile or broken, and stopping here keeps
#: the conversion far from Python's recursion limit.
MAX_DEPTH = 100


#: Generation-0 threshold during the bulk read (Python's default is 700).
GC_THRESHOLD = 100_000


class TooDeep(ValueError):
    """A value nested deeper than MAX_DEPTH."""


_LOCAL: dict[str, str] = {}


def local(tag: str) -> str:
    """The tag without its namespace (memoised: a page repeats a few dozen tags 100,000 times)."""
    name = _LOCAL.get(tag)
    if name is None:
        name = _LOCAL[tag] = tag.rsplit("}", 1)[-1]
    return name


#: Which fields of a structure to keep: {child name: what to keep of it}, None for all of it.
Keep = dict[str, "Keep | None"]


def plain(element: ET.Element, drop: frozenset[str] = frozenset(), depth: int = 0, keep: Keep | None = None) -> Any:
    """A SOAP value as plain Python: list for ArrayOf..., dict for a structure, str for a leaf.

    Array items whose xsi:type is in `drop` (e.g. keyboards in a device list) are skipped, and fields of a
    structure that `keep` does not name are never converted: no dict is built for what no rule reads.
    Raises TooDeep past MAX_DEPTH levels.
    """
    if depth > MAX_DEPTH:
        raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
    if not len(element):  # most elements are leaves: their text, and an empty array reads as "" (as_list: [])
        return element.text or ""
    kind = element.get(XSI_TYPE, "")
    if kind.startswith("ArrayOf"):
        return [plain(child, drop, depth + 1, keep) for child in element if child.get(XSI_TYPE) not in drop]
    out: dict[str, Any] = {"_type": kind} if kind else {}
    repeated: set[str] = set()
    for child in element:
        name = _LOCAL.get(child.tag) or local(child.tag)
        if keep is not None and name not in keep:
            continue
        value = plain(child, drop, depth + 1, keep[name] if keep is not None else None)
        if name in out:  # a repeated element is an array whose type the schema, not the XML, declares
            if name not in repeated:
                out[name] = [out[name]]
                repeated.add(name)
            out[name].append(value)
        else:
            out[name] = value
    return out


def as_list(value: Any) -> list[Any]:
    """Repeated elements come back as a list, a single one as the value itself."""
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _method(name: str) -> Any:
    from pyVmomi import VmomiSupport

    return VmomiSupport.GetVmodlType("vmodl.query.PropertyCollector")._GetMethodInfo(name)


def parse(body: bytes, what: str) -> ET.Element:
    """The answer as an element tree, or a TargetError that says why it cannot be read (never a traceback)."""
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        reason = f"not well-formed XML ({exc})"
    except (LookupError, ValueError) as exc:  # an encoding Python does not know, or a multi-byte one expat refuses
        reason = f"an XML encoding this tool cannot decode ({exc})"
    raise TargetError(f"vCenter's answer to {what} cannot be read: {reason[:200]}")


def _fetch(stub: Any, collector: Any, method: str, args: list[Any]) -> ET.Element:
    """One SOAP call on the stub's session and connection pool; the parsed answer (one C-speed parse)."""
    body = stub.SerializeRequest(collector, _method(method), args)
    headers = {"Cookie": stub.cookie, "SOAPAction": stub.versionId, "Content-Type": "text/xml; charset=UTF-8"}
    conn = stub.GetConnection()
    try:
        conn.request("POST", stub.path, body, headers)
        resp = conn.getresponse()
        text = resp.read()
    except Exception:
        conn.close()
        stub.DropConnections()
        raise
    if resp.status != 200:
        conn.close()
        try:
            fault = parse(text, method).findtext(".//faultstring")
        except TargetError:
            fault = None
        raise TargetError(f"vCenter refused {method}: {(fault or '')[:300] or f'HTTP {resp.status}'}")
    stub.ReturnConnection(conn)
    return parse(text, method)


def _token(root: ET.Element) -> str | None:
    return root.findtext(".//{urn:vim25}returnval/{urn:vim25}token")


def objects(root: ET.Element, drop: frozenset[str], keep: dict[str, Keep] | None = None
            ) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(type, moid, props) per returned object; a property that cannot be read goes to props["_gaps"].

    `keep` maps a property path to the fields kept of its value (others are skipped, see plain()).
    """
    keep = keep or {}
    for element in root.iterfind(".//{urn:vim25}returnval/{urn:vim25}objects"):
        obj, props = None, {}
        for part in element:
            part_tag = local(part.tag)
            if part_tag == "obj":
                obj = part
            elif part_tag == "propSet" and len(part) > 0:
                name, val = part[0].text or "", part[1] if len(part) > 1 else None
                try:
                    props[name] = plain(val, drop, 0, keep.get(name)) if val is not None else None
                except TooDeep as exc:
                    props.setdefault("_gaps", {})[name] = f"vCenter's value is {exc}"
        if obj is not None:
            yield obj.get("type", ""), obj.text or "", props


@contextlib.contextmanager
def quiet_gc() -> Iterator[None]:
    """The bulk read with the cyclic garbage collector held back.

    A page of 1,000 VMs becomes some 100,000 elements and as many small dicts and lists, all alive until the
    facts are built and none of them garbage: every generation-0 collection would walk them again for nothing
    (measured: a third of the conversion time).  Objects alive before the read are frozen out of the
    collector's sight, the generation-0 threshold is raised, and both are restored afterwards.  Reference
    counting still frees every page as soon as it is read.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], GC_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def retrieve(content: Any, specs: list[Any], page_size: int, count: Callable[[], None] = lambda: None,
             drop: frozenset[str] = frozenset(), keep: dict[str, Keep] | None = None
             ) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(type, moid, {path: plain value}) for every object, page after page, garbage collection held back.

    While one page is turned into dicts, the next is already being fetched on a second connection, so the
    server's work and the transfer overlap the client's parsing (the network wait releases the GIL).
    Round trips: one per page.
    """
    from pyVmomi import vmodl

    collector = content.propertyCollector
    stub = collector._stub
    count()
    root: ET.Element | None = _fetch(stub, collector, "RetrievePropertiesEx",
                                     [specs, vmodl.query.PropertyCollector.RetrieveOptions(maxObjects=page_size)])
    with quiet_gc(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="vcenter-page") as prefetch:
        while root is not None:
            token = _token(root)
            following = None
            if token:
                count()
                following = prefetch.submit(_fetch, stub, collector, "ContinueRetrievePropertiesEx", [token])
            yield from objects(root, drop, keep)
            root = following.result() if following is not None else None
