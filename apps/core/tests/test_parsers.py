"""The project's JSON parsing refuses bodies nested more than ``MAX_DEPTH`` levels with a 400
``parse_error`` in the one error shape, and never lets ``RecursionError`` through."""

from __future__ import annotations

import json

import pytest

from apps.core.api.parsers import MAX_DEPTH, NestingTooDeep, loads
from apps.core.models import Operation
from apps.core.tests.test_errors import DIAGNOSTICS, assert_error_shape


def nested(depth: int) -> str:
    return '{"a": ' * (depth - 1) + "[1]" + "}" * (depth - 1)


def test_the_deepest_allowed_document_is_parsed():
    value = loads(nested(MAX_DEPTH))
    for _ in range(MAX_DEPTH - 1):
        value = value["a"]
    assert value == [1]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 5000, 100_000])
def test_a_deeper_document_is_refused_as_a_decode_error_at_the_bracket_too_deep(depth):
    text = nested(depth)
    with pytest.raises(NestingTooDeep) as caught:
        loads(text)
    assert isinstance(caught.value, json.JSONDecodeError) and isinstance(caught.value, ValueError)
    assert str(MAX_DEPTH) in caught.value.msg
    assert caught.value.pos == text.index("[") if depth == MAX_DEPTH + 1 else len('{"a": ') * MAX_DEPTH
    assert text[caught.value.pos] in "[{"


def test_the_position_skips_brackets_inside_strings():
    text = '{"x": "' + "[{" * 100 + '\\\\", "y": ' + nested(MAX_DEPTH) + "}"
    with pytest.raises(NestingTooDeep) as caught:
        loads(text)
    assert caught.value.pos == text.index("[1]")


def test_scalars_and_flat_documents_are_untouched():
    assert loads('"x"') == "x"
    assert loads("[" + ",".join(["{}"] * 10_000) + "]") == [{}] * 10_000


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_a_deeply_nested_body_is_a_400_parse_error_and_starts_nothing(root_api, depth):
    response = root_api.post(DIAGNOSTICS, data=nested(depth), content_type="application/json")
    body = assert_error_shape(response, 400, "parse_error")
    assert "nested" in body["message"]
    assert not Operation.objects.exists()


def test_malformed_json_keeps_its_parse_error(root_api):
    response = root_api.post(DIAGNOSTICS, data='{"steps": ', content_type="application/json")
    assert_error_shape(response, 400, "parse_error")
    response = root_api.post(DIAGNOSTICS, data='{"steps": NaN}', content_type="application/json")
    assert_error_shape(response, 400, "parse_error")


def test_a_body_within_the_bound_is_accepted(root_api):
    response = root_api.post(DIAGNOSTICS, data={"steps": 1, "interval": 0}, format="json")
    assert response.status_code == 202, response.content
