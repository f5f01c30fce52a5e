"""What the official Alibaba Cloud SDKs say about an API, read from their generated models.

The SDK packages ship, for every action, a request model whose ``__init__`` marks each parameter the
API requires with the line ``# This parameter is required.`` and a response model whose ``from_map``
names every field the API defines (and the model of each nested object). These helpers turn that
generated source into data, so tests can hold cloudsim and the adapter to the real API.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
from typing import Any

_GET_RE = re.compile(r"\bm\.get\('([^']+)'\)")
_MODEL_RE = re.compile(r"\b(?:main_models|models)\.(\w+)\(\)")
_TO_MAP_RE = re.compile(r"result\['([^']+)'\]\s*=\s*self\.(\w+)")
_ASSIGN_RE = re.compile(r"^\s*self\.(\w+)\s*=\s*\w+\s*$")
REQUIRED_LINE = "# This parameter is required."


@functools.cache
def fields(model: type) -> dict[str, type | None]:
    """Wire name -> model class of the nested object (``None`` for a scalar or a list of scalars)."""
    module = sys.modules[model.__module__]
    namespace = getattr(module, "main_models", None) or module
    out: dict[str, type | None] = {}
    current = None
    for line in inspect.getsource(model.from_map).splitlines():
        found = _GET_RE.search(line)
        if found:
            current = found.group(1)
            out.setdefault(current, None)
        nested = _MODEL_RE.search(line)
        if nested and current is not None:
            out[current] = getattr(namespace, nested.group(1))
    return out


@functools.cache
def wire_names(model: type) -> dict[str, str]:
    """Python attribute -> wire name, from the model's ``to_map``."""
    return {attr: wire for wire, attr in _TO_MAP_RE.findall(inspect.getsource(model.to_map))}


@functools.cache
def required(model: type) -> tuple[str, ...]:
    """Wire names of the parameters the API marks required (the SDK documents them in ``__init__``)."""
    names = wire_names(model)
    out, comments = [], []
    for line in inspect.getsource(model.__init__).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(stripped)
            continue
        assign = _ASSIGN_RE.match(line)
        if assign:
            if REQUIRED_LINE in comments:
                out.append(names.get(assign.group(1), assign.group(1)))
            comments = []
    return tuple(out)


def missing_required(request: Any) -> list[str]:
    """Required parameters a request model instance leaves unset."""
    names = {wire: attr for attr, wire in wire_names(type(request)).items()}
    return [wire for wire in required(type(request)) if getattr(request, names.get(wire, wire), None) in (None, "")]


def undefined(model: type, body: Any, path: str = "") -> list[str]:
    """Paths of fields in ``body`` (a response as sent on the wire) that ``model`` does not define."""
    out: list[str] = []
    if isinstance(body, list):
        for item in body:
            out += [p for p in undefined(model, item, path + "[]") if p not in out]
        return out
    if not isinstance(body, dict):
        return out
    known = fields(model)
    for key, value in body.items():
        if key not in known:
            out.append(f"{path}.{key}".lstrip("."))
        elif known[key] is not None:
            out += undefined(known[key], value, f"{path}.{key}".lstrip("."))
    return out
