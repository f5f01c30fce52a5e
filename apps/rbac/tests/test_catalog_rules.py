"""The permission catalog's rules as an administrator meets them: the message each malformed or unknown
pattern is refused with, which codes a wildcard role covers, which verbs only read, and the exact
meaning of ``*`` at the edges (empty runs, overlapping head and tail, repeated middles); with the
matcher's work counted exactly for a few patterns, so the linear bound is not met by accident."""

from __future__ import annotations

import pytest

from apps.rbac import catalog
from apps.rbac.catalog import match_steps, matches, pattern_error, validate_patterns
from apps.rbac.models import Role
from tests import factories as f
from tests.fixtures import api_as


@pytest.fixture
def root(db):
    return api_as(f.user("root", f.org("HQ"), is_superuser=True))


@pytest.mark.parametrize(("pattern", "message"), [
    (None, "must be a non-empty string"),
    ("", "must be a non-empty string"),
    (7, "must be a non-empty string"),
    ("a" * 128, None),
    ("a" * 129, "is longer than 128 characters"),
    ("ECS:instance:read", "'ECS:instance:read' is not a permission code or pattern"),
    ("ecs:instance:read\n", "'ecs:instance:read\\n' is not a permission code or pattern"),
    ("a:b:c:d", None),
    ("a:b:c:d:e", "'a:b:c:d:e' has more than 4 colon-separated segments"),
    ("ecs::read", "'ecs::read' has an empty segment"),
    (":ecs", "':ecs' has an empty segment"),
    ("*", None),
    ("ecs", None),
])
def test_each_malformed_pattern_is_refused_saying_why(pattern, message):
    assert pattern_error(pattern) == message


@pytest.mark.django_db
def test_a_list_of_patterns_reports_each_bad_entry_with_its_path():
    assert validate_patterns("core:*") == [{"path": "permissions", "message": "must be a list of permission codes"}]
    assert validate_patterns(["core:*"] * 500, "actions") == []
    assert validate_patterns(["core:*"] * 501, "actions") == [{"path": "actions", "message": "at most 500 entries"}]
    assert validate_patterns(["core:operation:read", "core::x", "core:nothing:here", "nope:*"]) == [
        {"path": "permissions[1]", "message": "'core::x' has an empty segment"},
        {"path": "permissions[2]", "message": "'core:nothing:here' is not in the permission catalog"},
    ]


def test_a_role_with_an_unknown_code_is_refused_through_the_api(root):
    response = root.post("/api/v1/rbac/roles/", {"name": "typo", "permissions": ["core:operation:reed"]},
                         format="json")
    assert response.status_code == 400
    assert response.json()["detail"]["errors"] == [
        {"path": "permissions[0]", "message": "'core:operation:reed' is not in the permission catalog"}]
    assert not Role.objects.filter(name="typo").exists()


def test_a_wildcard_role_covers_exactly_the_matching_catalog_codes_minus_its_exclusions(root):
    response = root.post("/api/v1/rbac/roles/", {"name": "ops", "permissions": ["core:operation:*"],
                                                 "excluded_permissions": ["*:delete"]}, format="json")
    assert response.status_code == 201, response.content
    expected = [p.code for p in catalog.permission_catalog()
                if p.code.startswith("core:operation:") and not p.code.endswith(":delete")]
    assert expected and response.json()["effective_permissions"] == expected
    assert catalog.matching_codes(("core:operation:*",), ("*:delete",)) == tuple(expected)
    assert catalog.matching_codes(("core:operation:*",)) == tuple(
        p.code for p in catalog.permission_catalog() if p.code.startswith("core:operation:"))


def test_the_catalog_is_sorted_and_knows_each_codes_service_and_menus():
    codes = [p.code for p in catalog.permission_catalog()]
    assert codes == sorted(codes) and len(codes) == len(set(codes))
    assert catalog.is_registered("core:operation:read") and not catalog.is_registered("core:operation")
    menu = next(p for p in catalog.permission_catalog() if p.code.startswith("menu:"))
    plain = next(p for p in catalog.permission_catalog() if p.code == "core:operation:read")
    assert (menu.is_menu, plain.is_menu, plain.service, menu.service) == (True, False, "core", "menu")
    assert plain.app_label == "core" and plain.description


def test_registering_a_code_makes_it_matchable_and_registering_twice_is_harmless():
    before = catalog.matching_codes(("zz_test:*",))
    try:
        catalog.register_permissions("tests", ["zz_test:thing:read", ("zz_test:thing:write", "Write things")])
        catalog.register_permissions("tests", ["zz_test:thing:read"])
        assert before == ()
        assert catalog.matching_codes(("zz_test:*",)) == ("zz_test:thing:read", "zz_test:thing:write")
        read, written = (next(p for p in catalog.permission_catalog() if p.code == f"zz_test:thing:{verb}")
                         for verb in ("read", "write"))
        assert (written.description, written.app_label) == ("Write things", "tests")
        assert (read.description, read.app_label) == ("", "tests")
        for bad in ("zz_test:thing", "Zz:thing:read", "zz:thing:read:x:y", "zz:1thing:read"):
            with pytest.raises(ValueError, match=f"invalid permission code '{bad}': expected service:resource:action"):
                catalog.register_permissions("tests", [bad])
    finally:
        for code in ("zz_test:thing:read", "zz_test:thing:write"):
            catalog._catalog.pop(code, None)
        catalog.matching_codes.cache_clear()


@pytest.mark.parametrize(("action", "reads"), [
    ("core:operation:read", True), ("audit:log:export", True), ("core:operation:list", True),
    ("dashboards:screen:view", True), ("core:operation:write", False), ("core:read:write", False),
    ("menu:console:audit", False), ("read", True),
])
def test_only_read_list_export_and_view_verbs_only_read(action, reads):
    assert catalog.is_read_action(action) is reads


@pytest.mark.parametrize(("pattern", "action", "matched"), [
    ("*", "", True), ("core:operation:read", "core:operation:read", True), ("core:operation:read", "core", False),
    ("core*", "core", True), ("*core", "core", True), ("c*e", "ce", True), ("co*ore", "core", False),
    ("ab*ba", "aba", False), ("a*a", "a", False), ("a**b", "ab", True), ("*:*", ":", True), ("*:*", "x", False),
    ("*ab*ab*", "abab", True), ("*ab*ab*", "aab", False), ("*aab*", "aaab", True), ("*abab*", "aabababx", True),
    ("*abac*", "ababac", True), ("*aa*", "a", False), ("*a*b*c*", "cba", False), ("*a*b*c*", "xaybzc", True),
    ("x*", "y", False), ("*x", "y", False), ("*x*", "", False), ("x*y", "x", False),
])
def test_a_star_is_any_run_of_characters_at_the_edges(pattern, action, matched):
    assert matches(pattern, action) is matched
    assert catalog.matches_any(["nothing:at:all", pattern], action) is matched


@pytest.mark.parametrize(("pattern", "action", "expected"), [
    ("*", "core:operation:read", (True, 1)),
    ("core:operation:read", "core:operation:read", (True, 1)),
    ("core:operation:read", "core:operation:write", (False, 1)),
    ("ecs:*", "ecs:instance:create", (True, 5)),
    ("ecs:*", "ec", (False, 1)),
    ("*:read", "core:operation:write", (False, 6)),
    ("*:x*", "a:xb", (True, 5)),
    ("*:x*", "a:bx", (False, 7)),
    ("*aab*", "aaab", (True, 9)),
    ("*abab*", "abaabab", (True, 13)),
    ("*abac*", "ababac", (True, 12)),
    ("*a*b*c*", "xaybzc", (True, 7)),
    ("*zz*", "abc", (False, 5)),
    # middles whose own prefixes repeat: preparing them falls back inside the failure table
    ("*aabaaa*", "aabaabaaa", (True, 18)),
    ("*abacabab*", "abacabacabab", (True, 23)),
    # a one-character middle is a plain scan from where the head ends
    ("ab*x*", "abcdef", (False, 7)),
    ("ab*x*c", "abdxc", (True, 6)),
])
def test_the_work_of_a_match_is_counted_comparison_by_comparison(pattern, action, expected):
    catalog._compile.cache_clear()  # the work counted includes preparing the pattern
    assert match_steps(pattern, action) == expected
