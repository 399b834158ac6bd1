"""Bulk inventory reads through the vSphere PropertyCollector.

An estate has thousands of VMs; reading them one property at a time costs a
round trip per property per VM (and, on the govmomi simulator, lazy reads of
unset properties crash its PropertyCollector.Fetch).  Instead one
ContainerView over the whole inventory and one RetrievePropertiesEx with a
property set per object type bring everything back in pages of `page_size`
objects; ContinueRetrievePropertiesEx fetches the next page until the token
runs out.  Pages are handed to the caller as they arrive, so the client never
holds more than one page of raw objects.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from readiness.checks.vsphere import soapxml

PAGE_SIZE = 1000


def _pc() -> Any:
    from pyVmomi import vmodl

    return vmodl.query.PropertyCollector


def iter_objects(content: Any, props: dict[Any, list[str]], page_size: int = PAGE_SIZE,
                 count: Callable[[], None] = lambda: None, drop: frozenset[str] = frozenset(),
                 keep: dict[str, Any] | None = None) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield (type name, managed object ID, {property path: plain value}) for every object of the given types.

    Unset properties are simply absent from the dict (the server omits them).  The answer is parsed by
    soapxml (plain dicts, streamed page by page), not by pyVmomi's object deserializer.
    """
    from pyVmomi import vim

    pc = _pc()
    view = content.viewManager.CreateContainerView(content.rootFolder, list(props), True)
    try:
        traversal = pc.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)
        spec = pc.FilterSpec(
            objectSet=[pc.ObjectSpec(obj=view, skip=True, selectSet=[traversal])],
            propSet=[pc.PropertySpec(type=kind, pathSet=paths, all=False) for kind, paths in props.items()],
        )
        yield from soapxml.retrieve(content, [spec], page_size, count, drop, keep)
    finally:
        with contextlib.suppress(Exception):  # the session is logged out right after anyway
            view.DestroyView()


def retrieve(content: Any, specs: list[Any], page_size: int = PAGE_SIZE) -> Iterator[tuple[Any, dict[str, Any]]]:
    """RetrievePropertiesEx, then ContinueRetrievePropertiesEx while the server hands back a token (pyVmomi objects)."""
    collector = content.propertyCollector
    result = collector.RetrievePropertiesEx(specs, _pc().RetrieveOptions(maxObjects=page_size))
    while result is not None:
        for obj in result.objects or ():
            yield obj.obj, {prop.name: prop.val for prop in obj.propSet or ()}
        token = result.token
        result = collector.ContinueRetrievePropertiesEx(token) if token else None


def properties_of(content: Any, obj: Any, paths: list[str]) -> dict[str, Any]:
    """Properties of one managed object (e.g. the AuthorizationManager) as pyVmomi objects, through the collector."""
    pc = _pc()
    spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=obj, skip=False)],
                         propSet=[pc.PropertySpec(type=type(obj), pathSet=paths, all=False)])
    for _, values in retrieve(content, [spec]):
        return values
    return {}
