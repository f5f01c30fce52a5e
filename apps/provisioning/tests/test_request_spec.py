"""A request's spec is parsed by its resource type's serializer before any rule looks at it: a field
of the wrong type is a 400 naming the field, nothing is created and the cloud is not called; the
OpenAPI document shows one typed schema per resource type."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.provisioning.models import ProvisioningRequest
from apps.provisioning.specs import SPECS, EcsInstanceSpec
from apps.provisioning.tests.conftest import spec

pytestmark = pytest.mark.django_db
REQUESTS = "/api/v1/provisioning/requests/"
TEXT_FIELDS = ("instance_type", "image_id", "zone", "vswitch_id", "security_group_id", "name", "system_disk_category")
WRONG_FOR_TEXT = {"an object": {"code": "ecs.g6.large"}, "a list": ["ecs.g6.large"], "a boolean": True, "a number": 7}
WRONG_FOR_INTEGER = {"an object": {"gib": 40}, "a list": [40], "a boolean": True, "a string": "40", "a float": 40.5}
WRONG_FOR_TAGS = {"a string": "env=prod", "a list": ["env"], "an object value": {"env": {"a": 1}},
                  "a number value": {"env": 1}}
CASES = [
    *((f, label, v) for f in TEXT_FIELDS for label, v in WRONG_FOR_TEXT.items()),
    *(("system_disk_gib", label, v) for label, v in WRONG_FOR_INTEGER.items()),
    *(("tags", label, v) for label, v in WRONG_FOR_TAGS.items()),
]


def body(world: dict[str, Any], **spec_fields: Any) -> dict[str, Any]:
    return {"project": str(world["project"].pk), "platform": world["platform"].pk, "region": "cn-hangzhou",
            "spec": spec(world, **spec_fields), "count": 1}


def post(world: dict[str, Any], data: dict[str, Any]):
    client = APIClient()
    client.force_login(world["tenant"])
    return client.post(REQUESTS, data, format="json")


def test_the_cases_cover_every_field_of_the_spec():
    writable = {name for name, field in EcsInstanceSpec().fields.items() if not field.read_only}
    assert writable == {field for field, _label, _value in CASES}
    assert set(SPECS) == {"ecs.instance", "ecs.disk", "ecs.security_group", "vpc.vpc", "vpc.vswitch", "eip.eip",
                          "slb.instance", "rds.instance", "redis.instance", "oss.bucket", "nat.nat_gateway"}


@pytest.mark.parametrize("field,label,value", CASES, ids=[f"{f} as {label}" for f, label, _v in CASES])
def test_a_spec_field_of_the_wrong_type_is_a_400_naming_it(world, control, field, label, value):
    calls = control.get("/stats")["calls"]
    response = post(world, body(world, **{field: value}))
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "invalid" and error["message"]
    assert list(error["detail"]) == [field], error
    assert not ProvisioningRequest.objects.exists()
    assert control.get("/stats")["calls"] == calls


@pytest.mark.parametrize("field,value", [("count", {"n": 1}), ("count", "2"), ("count", True), ("region", {"a": 1}),
                                         ("region", ["cn-hangzhou"]), ("resource_type", "ecs.snapshot"),
                                         ("spec", ["instance_type"]), ("spec", "ecs.g6.large")])
def test_request_fields_of_the_wrong_type_are_a_400_naming_them(world, control, field, value):
    calls = control.get("/stats")["calls"]
    response = post(world, {**body(world), field: value})
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"]
    assert not ProvisioningRequest.objects.exists()
    assert control.get("/stats")["calls"] == calls


def test_unknown_and_missing_spec_fields_are_named(world, control):
    data = body(world, flavour="large")
    del data["spec"]["vswitch_id"]
    response = post(world, data)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert set(detail) == {"spec", "vswitch_id"} and "flavour" in detail["spec"][0]
    assert not ProvisioningRequest.objects.exists()


def test_a_well_typed_spec_is_accepted_with_its_defaults(world, control):
    response = post(world, body(world, tags={"env": "prod"}))
    assert response.status_code == 202, response.content
    stored = response.json()["spec"]
    assert stored["name"] == "web" and stored["system_disk_gib"] == 40 and stored["tags"] == {"env": "prod"}
    assert stored["vcpu"] > 0 and stored["memory_mib"] > 0


def test_the_schema_documents_one_typed_spec_per_resource_type(world):
    client = APIClient()
    client.force_login(world["tenant"])
    schema = client.get("/api/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    create = schema["paths"][REQUESTS]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    create_schema = components[create.rsplit("/", 1)[-1]]
    spec_ref = create_schema["properties"]["spec"]["allOf"][0]["$ref"].rsplit("/", 1)[-1]
    # A union of one kind is documented as that kind (client generators refuse a oneOf of one).
    members = [m["$ref"].rsplit("/", 1)[-1] for m in components[spec_ref].get("oneOf", [{"$ref": spec_ref}])]
    assert len(members) == len(SPECS)
    ecs = components[members[0]]["properties"]
    assert ecs["instance_type"]["type"] == "string" and ecs["system_disk_gib"]["type"] == "integer"
    assert ecs["tags"]["type"] == "object"
    assert set(components[members[0]]["required"]) == {"instance_type", "image_id", "zone", "vswitch_id",
                                                        "security_group_id"}
    assert create_schema["properties"]["resource_type"]
    assert create_schema["properties"]["count"]["type"] == "integer"
    response_ref = schema["paths"][REQUESTS + "{id}/"]["get"]["responses"]["200"]["content"]["application/json"]
    detail = components[response_ref["schema"]["$ref"].rsplit("/", 1)[-1]]
    shown = components[detail["properties"]["spec"]["allOf"][0]["$ref"].rsplit("/", 1)[-1]]
    assert "oneOf" in shown or len(SPECS) == 1 and "vswitch_id" in shown["properties"]
