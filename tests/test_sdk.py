"""The Python client that an independent generator (``openapi-python-client``, ``make sdk``) makes
from the OpenAPI document drives a whole scenario against a live server, signed with AccessKey
pairs as a script would be: an administrator creates a project and adds a member, the member
requests an instance in it, the administrator approves, and the member follows the operation to
its end. Every answer is parsed by the generated models, and any status the document does not list
raises in the client."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import httpx
import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

from apps.provisioning.models import ChangeRecord
from apps.provisioning.tests.conftest import (  # noqa: F401 - fixtures of the provisioning tests
    control,
    drive,
    fast_polls,
    network,
    rbac_scoping,
    sim,
    spec,
    world,
)
from apps.security import services as security
from apps.security.client import sign
from devtools.sdk import PACKAGE, generate
from tests import factories as f

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture(scope="session")
def sdk(tmp_path_factory) -> ModuleType:
    """The client generated from this code base's document, once per session."""
    out = tmp_path_factory.mktemp("sdk")
    document = out / "openapi.json"
    GENERATOR_STATS.reset()
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(document))
    generate(document, out / "client")
    sys.path.insert(0, str(out / "client"))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out / "client"))


class AccessKeyAuth(httpx.Auth):
    """Signs each request of the generated client with an AccessKey pair (``apps.security.client.sign``)."""

    requires_request_body = True

    def __init__(self, access_key_id: str, secret: str) -> None:
        self.access_key_id, self.secret = access_key_id, secret

    def auth_flow(self, request: httpx.Request):
        request.headers.update(sign(request.method, str(request.url), access_key_id=self.access_key_id,
                                    secret=self.secret, body=request.content, headers=dict(request.headers)))
        yield request


def client_for(sdk: ModuleType, base_url: str, person) -> object:
    key, secret = security.access_key_create(actor=person, description="sdk")
    return sdk.Client(base_url=base_url, raise_on_unexpected_status=True,
                      httpx_args={"auth": AccessKeyAuth(key.id, secret)})


def call(module: ModuleType, **kwargs):
    """The parsed answer of one generated operation, with its status."""
    response = module.sync_detailed(**kwargs)
    return response.status_code, response.parsed


def test_a_generated_client_creates_a_project_requests_approves_and_follows_the_operation(
        sdk, live_server, world):  # noqa: F811 - the provisioning tests' fixture
    from unimanager_client.api.core import core_operations_retrieve
    from unimanager_client.api.organizations import organizations_projects_add_member_create as add_member
    from unimanager_client.api.organizations import organizations_projects_create
    from unimanager_client.api.provisioning import (
        provisioning_requests_approve_create,
        provisioning_requests_create,
        provisioning_requests_retrieve,
    )
    from unimanager_client.models import (
        DecisionRequestRequest,
        EcsInstanceSpecRequest,
        Error,
        NamedWriteRequest,
        Operation,
        RequestCreateRequest,
        RequestDetail,
        UserRefRequest,
    )

    admin, tenant = world["approver"], world["tenant"]
    f.grant(f.role("organizations:project:*", key="project_admin"), admin, world["hq"])
    as_admin = client_for(sdk, live_server.url, admin)
    as_tenant = client_for(sdk, live_server.url, tenant)

    status, project = call(organizations_projects_create, client=as_admin,
                           body=NamedWriteRequest(name="sdk-shop", organization=world["hq"].pk))
    assert status == 201, project
    status, project = call(add_member, id=project.id, client=as_admin, body=UserRefRequest(user=tenant.pk))
    assert status == 200 and str(tenant.pk) in project.members, project

    body = RequestCreateRequest(project=project.id, platform=world["platform"].pk, region="cn-hangzhou",
                                spec=EcsInstanceSpecRequest.from_dict(spec(world, name="sdk-web")), count=1,
                                reason="through the generated client")
    status, submitted = call(provisioning_requests_create, client=as_tenant, body=body)
    assert status == 202 and isinstance(submitted, RequestDetail), submitted
    assert submitted.status == "pending" and submitted.spec.vswitch_id == world["vswitch"]

    # The requester may not approve their own request: a documented refusal in the error shape.
    status, refused = call(provisioning_requests_approve_create, id=submitted.id, client=as_tenant)
    assert status == 403 and isinstance(refused, Error), refused

    status, approved = call(provisioning_requests_approve_create, id=submitted.id, client=as_admin,
                            body=DecisionRequestRequest(comment="looks right"))
    assert status == 202 and approved.status in ("approved", "provisioning"), approved
    drive(ChangeRecord.objects.get(request_id=submitted.id).id)

    status, detail = call(provisioning_requests_retrieve, id=submitted.id, client=as_tenant)
    assert status == 200 and len(detail.operations) == 1, detail
    status, operation = call(core_operations_retrieve, id=detail.operations[0], client=as_tenant)
    assert status == 200 and isinstance(operation, Operation), operation
    assert operation.status.value == "succeeded" and operation.progress == 100, operation
    assert operation.organization == world["hq"].pk
