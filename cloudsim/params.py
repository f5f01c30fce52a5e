"""Typed access to the flat ``Key.N.Sub`` parameters of an RPC-style request."""

from __future__ import annotations

import json
import re

from .errors import CloudError, invalid, missing

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class Params:
    """Request parameters merged from the query string and the form body."""

    def __init__(self, values: dict[str, str]):
        self.values = values

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def str(self, name: str, default: str | None = None, *, required: bool = False, choices=None) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise missing(name)
            return default
        if len(value) > 4096:
            raise invalid(name, "The value is too long.")
        if choices is not None and value not in choices:
            raise invalid(name, f"Allowed values: {', '.join(sorted(choices))}.")
        return value

    def int(self, name: str, default: int | None = None, *, required: bool = False, lo: int | None = None,
            hi: int | None = None) -> int | None:
        raw = self.str(name, required=required)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid(name, "It must be an integer.") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise invalid(name, f"It must be between {lo} and {hi}.")
        return value

    def float(self, name: str, default: float | None = None) -> float | None:
        raw = self.str(name)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            raise invalid(name, "It must be a number.") from None

    def bool(self, name: str, default: bool = False) -> bool:
        raw = self.str(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise invalid(name, "It must be true or false.")

    def json_list(self, name: str) -> list[str] | None:
        """A parameter sent as a JSON array string, e.g. ``InstanceIds=["i-1","i-2"]``."""
        raw = self.str(name)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            raise CloudError(f"Invalid{name}.Malformed", f'The specified parameter "{name}" is not valid.') from None
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise CloudError(f"Invalid{name}.Malformed", f'The specified parameter "{name}" is not valid.')
        if len(value) > 100:
            raise invalid(name, "At most 100 values are allowed.")
        return [str(v) for v in value]

    def repeated(self, name: str) -> list[str]:
        """``Name.1``, ``Name.2`` ... in index order."""
        pattern = re.compile(re.escape(name) + r"\.(\d+)$")
        found = []
        for key, value in self.values.items():
            m = pattern.match(key)
            if m:
                found.append((int(m.group(1)), value))
        return [v for _, v in sorted(found)]

    def repeated_struct(self, name: str) -> list[dict[str, str]]:
        """``Name.1.Key``/``Name.1.Value`` ... as a list of dicts in index order."""
        pattern = re.compile(re.escape(name) + r"\.(\d+)\.(\w+)$")
        found: dict[int, dict[str, str]] = {}
        for key, value in self.values.items():
            m = pattern.match(key)
            if m:
                found.setdefault(int(m.group(1)), {})[m.group(2)] = value
        return [found[i] for i in sorted(found)]

    def struct(self, name: str) -> dict[str, str]:
        """``Name.Sub`` parameters as a dict."""
        prefix = name + "."
        return {k[len(prefix):]: v for k, v in self.values.items()
                if k.startswith(prefix) and "." not in k[len(prefix):]}

    def tags(self) -> dict[str, str]:
        """``Tag.N.Key``/``Tag.N.Value`` pairs."""
        tags = {}
        for item in self.repeated_struct("Tag"):
            key = item.get("Key")
            if not key:
                raise invalid("Tag.N.Key", "A tag key must not be empty.")
            tags[key] = item.get("Value", "")
        if len(tags) > 20:
            raise CloudError("InvalidTagCount", "The number of tags exceeds 20.")
        return tags
