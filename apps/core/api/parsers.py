"""The project's JSON parsing: request bodies nested deeper than ``MAX_DEPTH`` are refused.

Python's JSON decoder recurses once per level, so a body of a few thousand ``[`` raises
``RecursionError`` (a 500) in the parser, and a body just under the interpreter's limit would raise
it later, in whatever walks the data. Nothing the console accepts comes close to ``MAX_DEPTH``.
The API parses through ``JSONParser`` (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``); a page that
reads JSON from a request calls ``loads``.
"""

from __future__ import annotations

import codecs
import json as std_json
import re
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

MAX_DEPTH = 64
# A string (escapes included) or a bracket: finding where a document gets too deep skips strings.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{\]}]')


class NestingTooDeep(std_json.JSONDecodeError):
    """A ``JSONDecodeError`` (so a ``ValueError``) pointing at the bracket that opens level
    ``MAX_DEPTH + 1``; callers that report decode errors by line and column need nothing new."""

    def __init__(self, doc: str) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep", doc, _position_too_deep(doc))


def _position_too_deep(doc: str) -> int:
    depth = 0
    for token in _TOKENS.finditer(doc):
        if token.group() in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                return token.start()
        elif token.group() in ("]", "}"):
            depth -= 1
    return 0


def _too_deep(value: Any) -> bool:
    """Whether ``value`` nests lists and objects more than ``MAX_DEPTH`` levels (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(text: str, **kwargs: Any) -> Any:
    """``json.loads`` that raises ``json.JSONDecodeError`` (a ``ValueError``) for anything it
    refuses, a document nested too deeply included, and never ``RecursionError``."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise NestingTooDeep(text) from None
    if isinstance(value, dict | list) and _too_deep(value):
        raise NestingTooDeep(text)
    return value


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser through ``loads``: a malformed or too deeply nested body is a 400
    ``parse_error`` in the one error shape."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            return loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
