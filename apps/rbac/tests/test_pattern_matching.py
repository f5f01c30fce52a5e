"""Permission patterns: ``matches`` means what a plain glob means (``*`` is any run of characters,
colons included), its work grows linearly with the pattern and the action whatever the pattern,
and patterns that are not well-formed are refused when a role or a policy is written."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.rbac.catalog import match_steps, matches
from apps.rbac.models import AccessPolicy, Role
from tests import factories as f
from tests.fixtures import api_as


def reference_matches(pattern: str, action: str) -> bool:
    """The definition: ``*`` stands for any string (empty included), every other character for itself."""

    @cache
    def from_(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(action)
        if pattern[i] == "*":
            return from_(i + 1, j) or (j < len(action) and from_(i, j + 1))
        return j < len(action) and pattern[i] == action[j] and from_(i + 1, j + 1)

    return from_(0, 0)


def linear_bound(pattern: str, action: str) -> int:
    """What ``match_steps`` promises: at most three comparisons per character of either string."""
    return 3 * (len(pattern) + len(action)) + 1


small_patterns = st.text(alphabet="ab:_*", max_size=10)
small_actions = st.text(alphabet="ab:_", max_size=12)


@settings(max_examples=3000, deadline=None)
@given(pattern=small_patterns, action=small_actions)
def test_matches_agrees_with_the_reference_definition(pattern, action):
    assert matches(pattern, action) == reference_matches(pattern, action)


@settings(max_examples=300, deadline=None)
@given(pattern=small_patterns, data=st.data())
def test_an_action_the_pattern_spells_out_matches(pattern, data):
    filler = st.text(alphabet="ab:_", max_size=4)
    action = "".join(data.draw(filler) if char == "*" else char for char in pattern)
    assert matches(pattern, action)


# Few letters and long runs are where a backtracking matcher suffers most.
long_patterns = st.lists(st.sampled_from(["*", "a", "aa", "ab", "b", ":", "a:a"]), max_size=40).map("".join)
long_actions = st.lists(st.sampled_from(["a", "aaaa", "b", ":", "ab"]), max_size=150).map("".join)


@settings(max_examples=1500, deadline=None)
@given(pattern=long_patterns, action=long_actions)
def test_matching_work_is_linear_in_pattern_plus_action(pattern, action):
    matched, steps = match_steps(pattern, action)
    assert matched == matches(pattern, action)
    assert steps <= linear_bound(pattern, action)


@pytest.mark.parametrize("k", [4, 7, 30])
def test_many_wildcards_against_a_long_action_cost_linear_work(k):
    """A backtracking regex needed over 17 s for k=7 (each extra ``*`` multiplied the time by ~7)."""
    pattern = "*a" * k + "*b"
    for action, expected in [("a" * 60 + ":a:a", False), ("a" * 60 + ":a:ab", True),
                             ("a" * 60 + "b" + "a" * 60 + ":a:a", False)]:
        matched, steps = match_steps(pattern, action)
        assert matched is expected
        assert matched == reference_matches(pattern, action)
        assert steps <= linear_bound(pattern, action)


def test_a_wildcard_needs_a_match_for_each_middle_part_in_order():
    matched, steps = match_steps("*ba*bb*", "ab" * 200)
    assert matched is False and steps <= linear_bound("*ba*bb*", "ab" * 200)
    assert matches("*bb*ba*", "ab" * 200 + "b" + "ab" * 200)
    assert matches("*:*:read", "ecs:instance:read")
    assert not matches("*:*:read", "ecs:read")
    assert matches("ecs:*", "ecs:instance:create")
    assert not matches("ecs:*", "ecsx:instance:create")


# -- validation on write -----------------------------------------------------------------------

MALFORMED = [
    pytest.param("ecs:" + "*a" * 100, id="too-long"),
    pytest.param("ecs:instance:read:x:y", id="too-many-segments"),
    pytest.param("ecs::read", id="empty-segment"),
    pytest.param("ECS:instance:*", id="bad-characters"),
    pytest.param("ecs:instance:read\n", id="trailing-newline"),
]


@pytest.fixture
def root():
    return api_as(f.user("root", f.org("HQ"), is_superuser=True))


@pytest.mark.django_db
@pytest.mark.parametrize("pattern", MALFORMED)
@pytest.mark.parametrize("field", ["permissions", "excluded_permissions"])
def test_a_role_with_a_malformed_pattern_is_refused_naming_the_field(root, pattern, field):
    body = {"name": "custom", "permissions": ["core:operation:read"], "excluded_permissions": []}
    body[field] = body[field] + [pattern]
    before = Role.objects.count()
    response = root.post("/api/v1/rbac/roles/", body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()["detail"]["errors"]
    index = len(body[field]) - 1
    assert [e["path"] for e in errors] == [f"{field}[{index}]"]
    assert Role.objects.count() == before


@pytest.mark.django_db
def test_a_role_update_with_a_malformed_pattern_changes_nothing(root):
    created = root.post("/api/v1/rbac/roles/", {"name": "custom", "permissions": ["core:*"]}, format="json")
    assert created.status_code == 201, created.content
    response = root.patch(f"/api/v1/rbac/roles/{created.json()['id']}/",
                          {"permissions": ["core:*", "*a" * 100]}, format="json")
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["detail"]["errors"]] == ["permissions[1]"]
    assert Role.objects.get(pk=created.json()["id"]).permissions == ["core:*"]


@pytest.mark.django_db
def test_a_role_with_too_many_patterns_is_refused(root):
    response = root.post("/api/v1/rbac/roles/", {"name": "huge", "permissions": ["core:*"] * 501}, format="json")
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["detail"]["errors"]] == ["permissions"]
    assert not Role.objects.filter(name="huge").exists()


@pytest.mark.django_db
def test_a_well_formed_wildcard_role_is_accepted(root):
    response = root.post("/api/v1/rbac/roles/", {"name": "readers", "permissions": ["*:*:read", "core:*"]},
                         format="json")
    assert response.status_code == 201, response.content
    assert "core:operation:read" in response.json()["effective_permissions"]


@pytest.mark.django_db
@pytest.mark.parametrize("pattern", MALFORMED)
def test_a_policy_with_a_malformed_action_is_refused_naming_the_field(root, pattern):
    document = {"Statement": [{"Effect": "Deny", "Action": ["core:*", pattern], "Resource": "*"}]}
    response = root.post("/api/v1/rbac/policies/", {"name": "bad", "document": document}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_policy"
    assert [e["path"] for e in body["detail"]["document"]] == ["Statement[0].Action[1]"]
    assert "Statement[0].Action[1]" in body["message"]
    assert not AccessPolicy.objects.filter(name="bad").exists()


@pytest.mark.django_db
def test_a_policy_statement_with_too_many_actions_is_refused(root):
    document = {"Statement": [{"Effect": "Deny", "Action": ["core:*"] * 501, "Resource": "*"}]}
    response = root.post("/api/v1/rbac/policies/", {"name": "bad", "document": document}, format="json")
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["detail"]["document"]] == ["Statement[0].Action"]
    assert not AccessPolicy.objects.filter(name="bad").exists()
