"""Log Service through the official SDK ``alibabacloud_sls20201230`` (its own signature and host convention).

cloudsim is reached at an IP address, where ``<project>.<address>`` cannot be resolved: the client sends
each request to cloudsim's address as an HTTP proxy, with the project's host name in the request line and
the ``Host`` header, so the bytes signed and the host are the SDK's own.
"""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_sls20201230 import models as sls_models
from alibabacloud_sls20201230.client import Client as SlsClient
from Tea.exceptions import TeaException

from cloudsim.services.sls import project_of

from .conftest import REGION, apsara_config, sdk_config
from .sdk_schema import undefined


def client(sim, config_fn=sdk_config, **overrides) -> SlsClient:
    return SlsClient(config_fn(sim, http_proxy=f"http://{sim.endpoint}", **overrides))


@pytest.fixture
def sls(sim, control) -> SlsClient:
    return client(sim)


def _project(sls: SlsClient, name: str, *stores: str) -> None:
    sls.create_project(sls_models.CreateProjectRequest(project_name=name, description=f"{name} logs"))
    for store in stores:
        sls.create_log_store(name, sls_models.CreateLogStoreRequest(logstore_name=store, ttl=30, shard_count=2))


def test_projects_are_listed_by_offset_and_size_and_read_one_by_one(sls):
    _project(sls, "shop-logs")
    _project(sls, "audit-trail")
    first = sls.list_project(sls_models.ListProjectRequest(offset=0, size=1)).body
    assert (first.count, first.total, len(first.projects)) == (1, 2, 1)
    second = sls.list_project(sls_models.ListProjectRequest(offset=1, size=1)).body
    assert {first.projects[0].project_name, second.projects[0].project_name} == {"shop-logs", "audit-trail"}
    one = sls.get_project("shop-logs", sls_models.GetProjectRequest()).body
    assert (one.project_name, one.description, one.status, one.region) == ("shop-logs", "shop-logs logs", "Normal",
                                                                          REGION)
    assert sls.list_project(sls_models.ListProjectRequest(project_name="audit")).body.total == 1


def test_logstores_of_a_project_are_paged_and_read(sls):
    _project(sls, "shop-logs", "nginx-access", "app-errors", "audit")
    _project(sls, "other-logs", "elsewhere")
    page = sls.list_log_stores("shop-logs", sls_models.ListLogStoresRequest(offset=0, size=2)).body
    assert (page.count, page.total) == (2, 3)
    rest = sls.list_log_stores("shop-logs", sls_models.ListLogStoresRequest(offset=2, size=2)).body
    assert sorted(page.logstores + rest.logstores) == ["app-errors", "audit", "nginx-access"]
    store = sls.get_log_store("shop-logs", "nginx-access").body
    assert (store.logstore_name, store.ttl, store.shard_count, store.mode) == ("nginx-access", 30, 2, "standard")
    with pytest.raises(TeaException) as exc:
        sls.get_log_store("shop-logs", "elsewhere")
    assert (exc.value.code, exc.value.data["statusCode"]) == ("LogStoreNotExist", 404)


def test_unknown_project_and_duplicates_are_refused_in_sls_shape(sls):
    with pytest.raises(TeaException) as exc:
        sls.get_project("missing-project", sls_models.GetProjectRequest())
    assert (exc.value.code, exc.value.data["statusCode"]) == ("ProjectNotExist", 404)
    with pytest.raises(TeaException) as exc:
        sls.list_log_stores("missing-project", sls_models.ListLogStoresRequest())
    assert exc.value.code == "ProjectNotExist"
    _project(sls, "shop-logs", "nginx-access")
    with pytest.raises(TeaException) as exc:
        _project(sls, "shop-logs")
    assert exc.value.code == "ProjectAlreadyExist"
    with pytest.raises(TeaException) as exc:
        sls.create_log_store("shop-logs", sls_models.CreateLogStoreRequest(logstore_name="nginx-access", ttl=7,
                                                                           shard_count=1))
    assert exc.value.code == "LogStoreAlreadyExist"
    with pytest.raises(TeaException) as exc:
        sls.create_project(sls_models.CreateProjectRequest(project_name="Bad_Name", description="x"))
    assert exc.value.code == "ParameterInvalid"
    assert sls.list_project(sls_models.ListProjectRequest()).body.total == 1


def test_deleting_a_project_takes_its_logstores(sls):
    _project(sls, "shop-logs", "nginx-access")
    sls.delete_project("shop-logs", sls_models.DeleteProjectRequest())
    _project(sls, "shop-logs")
    assert sls.list_log_stores("shop-logs", sls_models.ListLogStoresRequest()).body.total == 0


def test_wrong_secret_and_unknown_key_are_refused(sim, control):
    with pytest.raises(TeaException) as exc:
        client(sim, access_key_secret="not-the-secret").list_project(sls_models.ListProjectRequest())
    assert (exc.value.code, exc.value.data["statusCode"]) == ("SignatureNotMatch", 401)
    with pytest.raises(TeaException) as exc:
        client(sim, access_key_id="nobody").list_project(sls_models.ListProjectRequest())
    assert (exc.value.code, exc.value.data["statusCode"]) == ("Unauthorized", 401)


def test_apsara_account_names_organization_and_region(sim, control):
    ok = client(sim, apsara_config)
    ok.create_project(sls_models.CreateProjectRequest(project_name="ops-logs", description="ops"))
    assert [p.project_name for p in ok.list_project(sls_models.ListProjectRequest()).body.projects] == ["ops-logs"]
    with pytest.raises(TeaException) as exc:
        client(sim, apsara_config, organization=None).list_project(sls_models.ListProjectRequest())
    assert exc.value.code == "MissingParameter"


def test_faults_apply_to_log_service_actions(sls, control):
    control.post("/faults", {"action": "ListProject", "error_rate": 1.0, "code": "ServiceUnavailable",
                             "remaining": 1})
    with pytest.raises(TeaException) as exc:
        sls.list_project(sls_models.ListProjectRequest())
    assert (exc.value.code, exc.value.data["statusCode"]) == ("ServiceUnavailable", 503)
    assert sls.list_project(sls_models.ListProjectRequest()).body.total == 0


def test_project_is_the_first_label_of_the_host():
    regions = ["cn-hangzhou"]
    assert project_of("shop-logs.127.0.0.1:9100", regions) == "shop-logs"
    assert project_of("shop-logs.cloudsim", regions) == "shop-logs"
    assert project_of("shop-logs.cn-hangzhou.log.aliyuncs.com", regions) == "shop-logs"
    for host in ("127.0.0.1:9100", "cloudsim:9100", "localhost", "cn-hangzhou.log.aliyuncs.com", "[::1]:9100"):
        assert project_of(host, regions) is None


def test_answers_hold_only_fields_the_sdk_response_models_define(sls):
    _project(sls, "shop-logs", "nginx-access")
    raw: dict[str, Any] = {}
    execute = sls.execute

    def capture(params, request, runtime):
        out = execute(params, request, runtime)
        raw[params.action] = out["body"]
        return out

    sls.execute = capture
    sls.list_project(sls_models.ListProjectRequest())
    sls.get_project("shop-logs", sls_models.GetProjectRequest())
    sls.list_log_stores("shop-logs", sls_models.ListLogStoresRequest())
    sls.get_log_store("shop-logs", "nginx-access")
    models = {"ListProject": sls_models.ListProjectResponseBody, "GetProject": sls_models.Project,
              "ListLogStores": sls_models.ListLogStoresResponseBody, "GetLogStore": sls_models.Logstore}
    assert set(raw) == set(models)
    assert {a: p for a, body in raw.items() if (p := undefined(models[a], body))} == {}
