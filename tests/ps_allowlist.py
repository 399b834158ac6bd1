"""What PowerShell the Windows probe and the WinRM bootstrap may use: PowerShell 2.0 on .NET 3.5.

Windows Server 2008 R2 SP1 ships PowerShell 2.0 on the .NET Framework 2.0/3.5 runtime; a single
construct from a later version is a parse or run-time error there, and with it a lost host.  So the
check is an allow-list, walked on tree-sitter-powershell's syntax tree (tests/ps_parse.js): every type
literal, static member, command, parameter, operator and automatic variable must be listed here, and
anything else fails with its line.  A probe change that needs something new adds it here after
checking it exists in PowerShell 2.0 / .NET 3.5 (Microsoft's docs: the cmdlet's 2.0 help, the .NET
Framework 3.5 class library; "Version information" / "Applies to" sections).

What it cannot see: the type of a value at run time.  Member enumeration (PowerShell 3's `(@(...)).Name`
meaning "Name of every item") is caught where the value is visibly a collection: `@(...)`, a comma
list, or a variable this script only ever assigns such a value (or an ArrayList) to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Node = dict[str, Any]

#: Type literals ([X], casts, parameter types, New-Object), lower case, without "System." and "[]".
#: PowerShell 2.0 accelerators plus .NET 3.5 types.  Not here (3.0+): ordered, pscustomobject,
#: ciminstance, ciminstance[], and .NET 4 types (e.g. Tuple, Lazy, Threading.Tasks.*).
TYPES = frozenset({
    "bool", "byte", "char", "decimal", "double", "int", "int16", "int32", "int64", "long", "sbyte", "single",
    "uint16", "uint32", "uint64", "string", "void", "datetime", "datetimekind", "timespan", "math", "regex",
    "scriptblock", "hashtable", "array", "object", "enum", "convert", "console", "uripartial", "uri",
    "collections.arraylist", "collections.idictionary", "collections.ienumerable", "collections.hashtable",
    "diagnostics.stopwatch", "globalization.cultureinfo", "io.file", "text.encoding", "text.stringbuilder",
    "threading.thread", "net.dns", "net.httpwebrequest", "net.webrequest", "net.webexception", "net.webproxy",
    "net.servicepointmanager", "net.securityprotocoltype", "net.networkinformation.ipglobalproperties",
    "net.sockets.tcpclient", "net.ipaddress", "security.principal.windowsidentity",
    "security.principal.windowsprincipal", "security.principal.windowsbuiltinrole",
    "security.principal.securityidentifier", "security.principal.ntaccount",
})

#: Static members per type (.NET 3.5).  Deliberately absent: [Console]::In (PowerShell 2.0 drains
#: redirected stdin before a script can read it), [string]::IsNullOrWhiteSpace (.NET 4),
#: [Net.SecurityProtocolType]::Tls11/Tls12 (.NET 4.5; 3.5 knows Ssl3 and Tls), `::new` (PowerShell 5).
STATIC_MEMBERS: dict[str, frozenset[str]] = {
    "console": frozenset({"out", "error", "outputencoding"}),
    "convert": frozenset({"frombase64string", "tobase64string", "toint32", "toint64", "tostring"}),
    "datetime": frozenset({"utcnow", "now", "minvalue", "maxvalue", "parse", "fromfiletimeutc"}),
    "datetimekind": frozenset({"utc", "local"}),
    "diagnostics.stopwatch": frozenset({"startnew"}),
    "double": frozenset({"isnan", "isinfinity", "parse", "tryparse"}),
    "enum": frozenset({"toobject", "getnames", "isdefined"}),
    "globalization.cultureinfo": frozenset({"getcultureinfo", "installeduiculture", "invariantculture",
                                            "currentculture", "currentuiculture"}),
    "io.file": frozenset({"readalllines", "exists"}),
    "math": frozenset({"round", "floor", "ceiling", "max", "min", "abs", "truncate"}),
    "net.dns": frozenset({"gethostaddresses", "gethostname", "gethostentry"}),
    "net.httpwebrequest": frozenset({"create"}),
    "net.networkinformation.ipglobalproperties": frozenset({"getipglobalproperties"}),
    "net.securityprotocoltype": frozenset({"ssl3", "tls"}),
    "net.servicepointmanager": frozenset({"securityprotocol", "expect100continue", "defaultconnectionlimit"}),
    "net.webrequest": frozenset({"create", "getsystemwebproxy", "defaultwebproxy"}),
    "regex": frozenset({"match", "matches", "escape", "replace", "ismatch", "split"}),
    "security.principal.windowsbuiltinrole": frozenset({"administrator"}),
    "security.principal.windowsidentity": frozenset({"getcurrent"}),
    "scriptblock": frozenset({"create"}),
    "string": frozenset({"join", "isnullorempty", "empty", "format", "concat"}),
    "text.encoding": frozenset({"utf8", "ascii", "unicode", "default"}),
    "threading.thread": frozenset({"currentthread"}),
    "uripartial": frozenset({"authority", "scheme", "path"}),
}

#: Common parameters of PowerShell 2.0 (about_CommonParameters); -PipelineVariable (4.0) and
#: -InformationAction/-InformationVariable (5.0) are not among them.
COMMON = frozenset({"-erroraction", "-errorvariable", "-warningaction", "-warningvariable", "-outvariable",
                    "-outbuffer", "-verbose", "-debug"})
#: -ErrorAction values of 2.0 (ActionPreference): Ignore is 3.0, Suspend 4.0.
ERROR_ACTIONS = frozenset({"silentlycontinue", "stop", "continue", "inquire"})

#: Cmdlets and their parameters as PowerShell 2.0 has them (2.0 help of each cmdlet).  Not here:
#: ConvertTo-Json/ConvertFrom-Json, Get-CimInstance, Invoke-RestMethod/Invoke-WebRequest,
#: Get-NetAdapter/Get-Disk/Test-NetConnection (3.0 and 2012 modules); nor 3.0 parameters such as
#: Get-ChildItem -File/-Directory, Get-Content -Raw, Where-Object -Property/-EQ, ForEach-Object -MemberName.
CMDLETS: dict[str, frozenset[str]] = {
    "foreach-object": frozenset({"-process", "-begin", "-end", "-inputobject"}),
    "where-object": frozenset({"-filterscript", "-inputobject"}),
    "get-childitem": frozenset({"-path", "-literalpath", "-filter", "-include", "-exclude", "-recurse", "-force",
                                "-name"}),
    "get-item": frozenset({"-path", "-literalpath", "-force"}),
    "get-itemproperty": frozenset({"-path", "-literalpath", "-name"}),
    "get-module": frozenset({"-listavailable", "-name", "-all"}),
    "get-pssnapin": frozenset({"-registered", "-name"}),
    "get-process": frozenset({"-name", "-id"}),
    "get-wmiobject": frozenset({"-class", "-namespace", "-filter", "-query", "-property", "-computername",
                                "-authentication", "-list"}),
    "import-module": frozenset({"-name", "-passthru"}),
    "join-path": frozenset({"-path", "-childpath"}),
    "new-object": frozenset({"-typename", "-argumentlist", "-comobject", "-property", "-strict"}),
    "test-path": frozenset({"-path", "-literalpath", "-pathtype"}),
    "get-content": frozenset({"-path", "-literalpath", "-totalcount", "-readcount", "-encoding"}),
    "select-object": frozenset({"-property", "-expandproperty", "-first", "-last", "-unique", "-skip"}),
    "sort-object": frozenset({"-property", "-unique", "-descending"}),
    "out-string": frozenset({"-width", "-stream"}),
    "out-null": frozenset(),
    "write-output": frozenset(),
    # virtualmachinemanager module of SCVMM 2012 (imported by the probe only where it is installed)
    "get-scvmmserver": frozenset({"-computername"}),
    "get-sccloud": frozenset({"-vmmserver"}),
    "get-scrunasaccount": frozenset({"-vmmserver"}),
}
#: Read-only Windows tools the probe runs (present on 2008 R2), with the dash options they may get.
EXECUTABLES: dict[str, frozenset[str]] = {
    "whoami.exe": frozenset(), "bcdedit.exe": frozenset(), "w32tm.exe": frozenset(),
    "netstat.exe": frozenset({"-ano", "-p", "-an"}),
}
COM_OBJECTS = frozenset({"hnetcfg.fwpolicy2"})

#: Operators of PowerShell 2.0 (about_Operators, 2.0), with their i/c-prefixed variants.  Not here:
#: -in/-notin (3.0), -shl/-shr (3.0).
_BASE_OPERATORS = {"eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch", "replace",
                   "contains", "notcontains", "split"}
OPERATORS = frozenset({f"-{p}{o}" for o in _BASE_OPERATORS for p in ("", "i", "c")}
                      | {"-is", "-isnot", "-as", "-and", "-or", "-xor", "-not", "-band", "-bor", "-bxor", "-bnot",
                         "-f", "-join",
                         # switch statement options (about_Switch, 2.0)
                         "-regex", "-wildcard", "-exact", "-casesensitive", "-file"})
#: Syntax of later versions: classes and enums (5.0), workflows' parallel (3.0), the stop-parsing
#: token, redirection of streams 3-6 and * (3.0), pipeline chains && || (7.0).
BANNED_NODES = frozenset({"class_statement", "enum_statement", "parallel_statement"})
BANNED_TOKENS = frozenset({"&&", "||", "--%", "-parallel", "workflow", "*>", "*>&1", "*>&2", "*>>"}
                          | {f"{n}{r}" for n in "3456" for r in (">", ">&1", ">&2", ">>")})
#: Automatic variables of 3.0+ ($PSItem 3.0; $PSScriptRoot/$PSCommandPath in scripts 3.0).
BANNED_VARIABLES = frozenset({"$psitem", "$psscriptroot", "$pscommandpath"})
#: Automatic variables a script must not assign (it would break the bootstrap or PowerShell itself).
AUTOMATIC = frozenset({"$input", "$host", "$pid", "$args", "$error", "$matches", "$this", "$_", "$true",
                       "$false", "$null", "$psversiontable", "$home", "$executioncontext"})
#: Members a visible collection (array, ArrayList) has itself; any other member would be enumeration.
COLLECTION_MEMBERS = frozenset({"count", "length", "add", "addrange", "contains", "toarray", "clear", "insert",
                                "remove", "removeat", "indexof", "sort", "reverse", "getenumerator", "clone",
                                "copyto", "rank", "getvalue", "setvalue", "gettype", "tostring", "equals"})
#: Intrinsic members of every object from 4.0 on.
INTRINSIC = frozenset({"foreach", "where"})


@dataclass(frozen=True)
class Violation:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def text(node: Node) -> str:
    return node["x"] if "x" in node else "".join(text(kid) for kid in node.get("k", []))


def walk(node: Node) -> Iterator[Node]:
    yield node
    for kid in node.get("k", []):
        yield from walk(kid)


def type_key(literal: str) -> str:
    """[System.Byte[]] -> byte: the allow-list key of a type literal or New-Object type name."""
    name = literal.strip().strip("'\"")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    name = re.sub(r"\[[,\s]*\]$", "", name.replace(" ", "")).lower()
    return name.removeprefix("system.")


def kids(node: Node) -> list[Node]:
    return node.get("k", [])


def violations(tree: Node) -> list[Violation]:
    """Everything in one parsed script that PowerShell 2.0 on .NET 3.5 may not have, in line order."""
    found: list[Violation] = []
    functions = _functions(tree)
    collections = _collection_variables(tree)
    for node in walk(tree):
        kind, line = node["t"], node["l"]
        if kind in BANNED_NODES or (not node["n"] and kind in BANNED_TOKENS):
            found.append(Violation(line, f"{text(node)[:40]!r} is PowerShell 3.0+ syntax"))
        elif kind == "type_literal" and type_key(text(node)) not in TYPES:
            found.append(Violation(line, f"type {text(node)} is not on the PowerShell 2.0 / .NET 3.5 allow-list"))
        elif kind in ("member_access", "invokation_expression"):
            found += _member(node, collections)
        elif kind == "command":
            found += _command(node, functions)
        elif not node["n"] and re.fullmatch(r"-[a-z]+", kind) and kind not in OPERATORS:
            found.append(Violation(line, f"operator {kind} is not in PowerShell 2.0"))
        elif kind == "variable":
            name = text(node).lower()
            if name in BANNED_VARIABLES or name.startswith(("$using:", "${using:")):
                found.append(Violation(line, f"variable {text(node)} is PowerShell 3.0+"))
        elif kind == "assignment_expression" and kids(node) and kids(node)[0]["t"] == "variable" \
                and text(kids(node)[0]).lower() in AUTOMATIC:
            found.append(Violation(line, f"assigns the automatic variable {text(kids(node)[0])}"))
    return sorted(set(found), key=lambda v: (v.line, v.message))


def _member(node: Node, collections: set[str]) -> list[Violation]:
    parts = kids(node)
    if len(parts) < 3:
        return []
    target, operator, member = parts[0], parts[1]["t"], text(parts[2]).lower()
    if operator == "::" and target["t"] == "type_literal":
        owner = type_key(text(target))
        if member == "new":
            return [Violation(node["l"], f"{text(target)}::new() is PowerShell 5.0 (use New-Object)")]
        if owner in TYPES and member not in STATIC_MEMBERS.get(owner, frozenset()):
            return [Violation(node["l"], f"static member {text(target)}::{text(parts[2])} is not on the "
                                         ".NET 3.5 allow-list")]
        return []
    if operator != ".":
        return []
    if member in INTRINSIC and node["t"] == "invokation_expression":
        return [Violation(node["l"], f".{text(parts[2])}() is PowerShell 4.0")]
    if _is_collection(target, collections) and member not in COLLECTION_MEMBERS:
        return [Violation(node["l"], f"{text(target)[:40]}.{text(parts[2])}: member enumeration of a collection "
                                     "is PowerShell 3.0 (2.0 gives $null); loop over the items")]
    return []


def _is_collection(node: Node, collections: set[str]) -> bool:
    if node["t"] == "array_expression" or node["t"] == "array_literal_expression":
        return True
    if node["t"] == "variable":
        return text(node).lower() in collections
    if node["t"] == "parenthesized_expression":
        inner = [k for k in kids(node) if k["n"]]
        return len(inner) == 1 and _is_collection(inner[0], collections)
    return False


def _collection_variables(tree: Node) -> set[str]:
    """Variables this script only ever assigns visible collections to (@(...), a, b, New-Object ArrayList)."""
    always: dict[str, bool] = {}
    for node in walk(tree):
        if node["t"] == "assignment_expression" and kids(node) and kids(node)[0]["t"] == "variable":
            name = text(kids(node)[0]).lower()
            value = kids(node)[-1]
            is_list = value["t"] in ("array_expression", "array_literal_expression") or (
                value["t"] == "command" and re.fullmatch(r"New-Object\s+(System\.)?Collections\.ArrayList",
                                                         text(value).strip(), re.IGNORECASE) is not None)
            always[name] = always.get(name, True) and is_list and text(kids(node)[1]) == "="
        elif node["t"] == "foreach_statement":  # the loop variable holds items
            loop = next((k for k in kids(node) if k["t"] == "variable"), None)
            if loop is not None:
                always[text(loop).lower()] = False
    return {name for name, only_lists in always.items() if only_lists}


def _functions(tree: Node) -> dict[str, frozenset[str]]:
    """Functions the script defines, with their parameters (as -name)."""
    found: dict[str, frozenset[str]] = {}
    for node in walk(tree):
        if node["t"] == "function_statement":
            name = next(text(k) for k in kids(node) if k["t"] == "function_name")
            params = {"-" + text(v)[1:].lower() for k in kids(node) if k["t"] == "function_parameter_declaration"
                      for v in walk(k) if v["t"] == "variable"}
            found[name.lower()] = frozenset(params)
    return found


def _own_elements(command: Node) -> Iterator[Node]:
    """The elements of this command, not of commands nested in its script blocks or subexpressions."""
    for part in kids(command):
        if part["t"] == "command_elements":
            yield from kids(part)


def _command(node: Node, functions: dict[str, frozenset[str]]) -> list[Violation]:
    name_node = next((k for k in kids(node) if k["t"] == "command_name"), None)
    if name_node is None:  # & $scriptblock, & (expression): the invoked value is checked where it is built
        return []
    name, line = text(name_node), node["l"]
    key = name.lower()
    elements = list(_own_elements(node))
    if key in EXECUTABLES:
        allowed = EXECUTABLES[key]
    elif key in CMDLETS:
        allowed = CMDLETS[key] | COMMON
    elif key in functions:
        allowed = functions[key] | COMMON
    else:
        return [Violation(line, f"command {name} is not on the PowerShell 2.0 allow-list")]
    found = []
    for index, element in enumerate(elements):
        if element["t"] != "command_parameter":
            continue
        parameter = text(element).rstrip(":").lower()
        if parameter not in allowed:
            found.append(Violation(element["l"], f"{name} {text(element)}: parameter not in PowerShell 2.0"))
        elif parameter == "-erroraction":
            value = next((e for e in elements[index + 1:] if e["t"] not in (" ",) and e["n"]), None)
            if value is not None and text(value).lower() not in ERROR_ACTIONS:
                found.append(Violation(element["l"], f"-ErrorAction {text(value)} is not a 2.0 ActionPreference"))
        elif parameter == "-comobject":
            value = next((e for e in elements[index + 1:] if e["n"]), None)
            if value is not None and text(value).lower() not in COM_OBJECTS:
                found.append(Violation(element["l"], f"COM object {text(value)} is not on the allow-list"))
    if key == "new-object":
        found += _new_object_type(elements, line)
    return found


def _new_object_type(elements: list[Node], line: int) -> list[Violation]:
    """New-Object's type name (positional or -TypeName) must be an allowed type."""
    previous = ""
    for element in elements:
        if not element["n"] or element["t"] == "comment":
            continue
        if element["t"] == "command_parameter":
            previous = text(element).lower()
            if previous == "-comobject":
                return []
            continue
        if previous in ("", "-typename"):
            name = type_key(text(element))
            if name not in TYPES:
                return [Violation(line, f"New-Object {text(element)}: type not on the .NET 3.5 allow-list")]
            return []
        previous = ""
    return []
