"""Dashboards as code: a folder of JSON files loaded at start, each file's errors reported on their own."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from apps.dashboards.folder import load_folder
from apps.dashboards.models import Dashboard
from apps.dashboards.tests.factories import document
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def orgs():
    return f.org("Root"), f.org("Branch")


def write(folder, name, content):
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_a_folder_loads_each_good_file_and_reports_each_bad_one_by_name(tmp_path, orgs):
    root, branch = orgs
    write(tmp_path, "a-ok.json", document("from-a"))
    write(tmp_path, "b-wrapped.json", {"organization": "Branch", "dashboard": document("from-b")})
    write(tmp_path, "c-broken.json", '{"uid": "x", ')
    bad = document("from-d")
    bad["widgets"][0]["type"] = "sparkline"
    write(tmp_path, "d-unknown-type.json", bad)
    write(tmp_path, "e-nobody.json", {"organization": "Nowhere", "dashboard": document("from-e")})
    write(tmp_path, "notes.txt", "not a dashboard")
    results = {r.file: r for r in load_folder(tmp_path)}
    assert set(results) == {"a-ok.json", "b-wrapped.json", "c-broken.json", "d-unknown-type.json", "e-nobody.json"}
    assert (results["a-ok.json"].status, results["b-wrapped.json"].status) == ("created", "created")
    assert Dashboard.objects.get(pk="from-a").organization == root
    assert Dashboard.objects.get(pk="from-b").organization == branch
    assert results["c-broken.json"].status == "error" and "line 1" in results["c-broken.json"].error
    assert "sparkline" in results["d-unknown-type.json"].error
    assert "Nowhere" in results["e-nobody.json"].error
    assert set(Dashboard.objects.values_list("pk", flat=True)) == {"from-a", "from-b"}


def test_loading_again_keeps_an_unchanged_file_and_versions_a_changed_one(tmp_path, orgs):
    write(tmp_path, "ops.json", document("ops"))
    assert [r.status for r in load_folder(tmp_path)] == ["created"]
    assert [r.status for r in load_folder(tmp_path)] == ["unchanged"]
    assert Dashboard.objects.get(pk="ops").version == 1
    write(tmp_path, "ops.json", document("ops", title="Operations wall"))
    assert [r.status for r in load_folder(tmp_path)] == ["updated"]
    row = Dashboard.objects.get(pk="ops")
    assert (row.version, row.title) == (2, "Operations wall")
    assert row.versions.first().message == "loaded from ops.json"


def test_a_file_cannot_take_over_another_organizations_dashboard(tmp_path, orgs):
    root, branch = orgs
    write(tmp_path, "first.json", {"organization": "Branch", "dashboard": document("shared-uid")})
    load_folder(tmp_path)
    (tmp_path / "first.json").unlink()
    write(tmp_path, "second.json", {"organization": "Root", "dashboard": document("shared-uid", title="Hijack")})
    (result,) = load_folder(tmp_path)
    assert result.status == "error" and "another organization" in result.error
    row = Dashboard.objects.get(pk="shared-uid")
    assert (row.organization, row.title, row.version) == (branch, "Test board", 1)


def test_a_missing_folder_is_one_error_not_a_crash_and_no_folder_loads_nothing(tmp_path, orgs, monkeypatch):
    (result,) = load_folder(tmp_path / "absent")
    assert result.status == "error"
    monkeypatch.delenv("UNIMANAGER_DASHBOARDS_DIR", raising=False)
    assert load_folder() == []


def test_the_configured_folder_is_loaded_after_migrate_and_by_the_command(tmp_path, orgs, monkeypatch):
    from apps.dashboards.folder import load_after_migrate

    monkeypatch.setenv("UNIMANAGER_DASHBOARDS_DIR", str(tmp_path))
    write(tmp_path, "wall.json", document("wall"))
    load_after_migrate()
    assert Dashboard.objects.filter(pk="wall").exists()
    write(tmp_path, "zz-bad.json", "[1, 2")
    with pytest.raises(CommandError, match="1 of 2 files"):
        call_command("load_dashboards")
