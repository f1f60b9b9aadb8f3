"""The azd template's Bicep as data: ``infra/*.bicep`` parsed offline with ``pycep-parser``.

pycep returns an identifier and a string literal alike (``bookingsHubName`` and
``'bookings'`` are both plain strings), so :class:`Template` resolves a plain string that names a
parameter, a variable or a loop item of the file and keeps any other string as a literal.
Anything only Azure can know (a resource id, a module output, a function call) stays
:class:`Opaque`: the JSON of its expression.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
MAIN = INFRA / "main.bicep"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))


class Opaque(str):
    """A value only Azure knows (a resource id, a module output, a function call)."""


class Template:
    """One parsed ``.bicep`` file with the parameter values its caller passes."""

    def __init__(self, path: Path, args: dict[str, Any] | None = None) -> None:
        self.path = path
        self.doc = parse(path)
        self.args = args or {}

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.doc.get("parameters") or {})

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.doc.get("resources") or {})

    @property
    def modules(self) -> dict[str, Any]:
        return dict(self.doc.get("modules") or {})

    def value(self, node: Any) -> Any:
        """``node`` with parameter and variable references replaced by their values."""
        if isinstance(node, str):
            variables = self.doc.get("variables") or {}
            if node in variables:
                return self.value(variables[node]["value"])
            if node in self.args:  # a parameter the caller passed, or a loop's item
                return self.args[node]
            if node in self.params:
                return self.value(self.params[node]["default"])
            return re.sub(r"\$\{(\w+)\}", lambda m: str(self.value(m.group(1))), node)
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if isinstance(node, dict) and not {"function", "operator"} & set(node):
            return {key.strip("'"): self.value(item) for key, item in node.items()}
        return Opaque(json.dumps(node, sort_keys=True, default=str))

    def body(self, resource: dict[str, Any]) -> dict[str, Any]:
        """A resource's or module's properties, through a condition or a loop."""
        config: dict[str, Any] = resource["config"]
        while "config" in config and ("condition" in config or "loop_type" in config):
            config = config["config"]
        return config

    def module(self, symbol: str) -> Template:
        module = self.modules[symbol]
        path = (self.path.parent / module["detail"]["path"]).resolve()
        params = self.body(module)["params"]
        return Template(path, {name: self.value(node) for name, node in params.items()})

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r["type"] == kind}

    def name_of(self, symbol: str) -> tuple[str, ...]:
        """``(parent name, ..., name)`` of a resource, following ``parent``."""
        body = self.body(self.resources[symbol])
        own = str(self.value(body["name"]))
        parent = body.get("parent")
        return (*self.name_of(parent), own) if parent else (own,)


@cache
def parse(path: Path) -> dict[str, Any]:
    parsed: dict[str, Any] = BicepParser().parse(file_path=path)
    return parsed


def main() -> Template:
    return Template(MAIN)


def module(symbol: str) -> Template:
    return main().module(symbol)


def app_settings() -> dict[str, Any]:
    app = module("app")
    (config,) = (app.body(r) for r in app.of_type("Microsoft.Web/sites/config").values())
    assert config["name"] == "appsettings"
    merged = config["properties"]["function"]
    assert merged["type"] == "union"
    result: dict[str, Any] = {}
    for part in merged["parameters"].values():
        if part is not None:
            result.update(app.value(part))
    return result


def storage_names(kind: str) -> set[str]:
    storage = module("storage")
    found: set[str] = set()
    for symbol, resource in storage.of_type(kind).items():
        body = storage.body(resource)
        loop = resource["config"].get("loop_type")
        if loop:
            items = storage.value(loop["detail"]["array_name"])
            item = loop["detail"]["item_name"]
            for value in items:
                found.add(Template(storage.path, {**storage.args, item: value}).value(body["name"]))
        else:
            found.add(storage.name_of(symbol)[-1])
    return found


def assignments(template: Template) -> set[tuple[str, str, str, tuple[str, ...]]]:
    found = set()
    role_ids = template.value("roleIds") if "roleIds" in (template.doc["variables"] or {}) else {}
    for resource in template.of_type("Microsoft.Authorization/roleAssignments").values():
        body = template.body(resource)
        role_ref = body["properties"]["roleDefinitionId"]["function"]
        assert role_ref["type"] == "subscription_resource_id"
        name = role_ref["parameters"]["resource_name_1"]
        if isinstance(name, dict):  # roleIds.<role>
            name = role_ids[name["operator"]["operands"]["operand_2"]]
        name = template.value(name)
        scope = body["scope"]
        assert isinstance(scope, str) and scope in template.resources, f"scope {scope!r}"
        target = template.resources[scope]["type"], *template.name_of(scope)
        principal = body["properties"]["principalId"]
        found.add((str(principal), str(name), target[0], tuple(target[1:])))
    return found


def loaded_files(template: Template) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            function = node.get("function")
            if isinstance(function, dict) and function.get("type", "").startswith("load_"):
                path = (template.path.parent / function["parameters"]["file_path"]).resolve()
                found.setdefault(function["type"], []).append(path)
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(template.doc)
    return found


def accessors(node: Any) -> set[str]:
    """Every ``a.b.c`` property access in an expression tree, as dotted text."""
    found: set[str] = set()

    def chain(expr: Any) -> str | None:
        if isinstance(expr, str):
            return expr
        operator = expr.get("operator") if isinstance(expr, dict) else None
        if operator and operator["type"] == "property_accessor":
            left = chain(operator["operands"]["operand_1"])
            right = chain(operator["operands"]["operand_2"])
            return f"{left}.{right}" if left and right else None
        return None

    def walk(expr: Any) -> None:
        if isinstance(expr, dict):
            text = chain(expr)
            if text and "." in text:
                found.add(text)
            for item in expr.values():
                walk(item)
        elif isinstance(expr, list):
            for item in expr:
                walk(item)

    walk(node)
    return found
