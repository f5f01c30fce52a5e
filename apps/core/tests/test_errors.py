"""Every API error has one shape, ``{"code", "message", "detail"}``, with the documented status;
pages get HTML error pages; no stack trace ever reaches a client."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.test import Client
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from apps.core import errors
from apps.core.tests import factories
from apps.core.tests.urls_errors import SECRET_IN_EXCEPTION

OPERATIONS = "/api/v1/core/operations/"
DIAGNOSTICS = "/api/v1/core/operations/diagnostics/"


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "detail"}
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["detail"], dict)
    if code is not None:
        assert body["code"] == code
    return body


class Raises(APIView):
    """An endpoint that raises whatever it is given, through DRF's exception handling."""

    permission_classes = [AllowAny]
    exc: Exception | None = None

    def get(self, request):
        raise self.exc


def raise_through_api(exc: Exception):
    return Raises.as_view(exc=exc)(APIRequestFactory().get("/api/v1/test/"))


@pytest.mark.django_db
def test_unauthenticated_api_request_is_401_not_authenticated():
    response = APIClient().get(OPERATIONS)
    assert_error_shape(response, 401, "not_authenticated")
    assert response.has_header("WWW-Authenticate")


@pytest.mark.django_db
def test_unauthenticated_command_is_401_and_starts_nothing(world):
    from apps.core.models import Operation

    response = APIClient().post(DIAGNOSTICS, {"steps": 2}, format="json")
    assert_error_shape(response, 401, "not_authenticated")
    assert not Operation.objects.exists()


def test_validation_errors_are_400_with_field_errors_under_detail(alice_api):
    response = alice_api.post(DIAGNOSTICS, {"steps": 0, "interval": "soon"}, format="json")
    body = assert_error_shape(response, 400, "invalid")
    assert set(body["detail"]) == {"steps", "interval"}
    assert all(isinstance(msgs, list) and msgs for msgs in body["detail"].values())


def test_a_body_that_is_not_an_object_is_400_with_non_field_errors(alice_api):
    body = assert_error_shape(alice_api.post(DIAGNOSTICS, [1, 2], format="json"), 400, "invalid")
    assert "non_field_errors" in body["detail"]


def test_malformed_json_is_400_parse_error(alice_api):
    response = alice_api.post(DIAGNOSTICS, "{not json", content_type="application/json")
    assert_error_shape(response, 400, "parse_error")


def test_wrong_method_is_405_in_the_error_shape(alice_api):
    assert_error_shape(alice_api.delete(OPERATIONS), 405, "method_not_allowed")


def test_unknown_filter_value_is_400_in_the_error_shape(alice_api):
    body = assert_error_shape(alice_api.get(OPERATIONS, {"status": "exploded"}), 400, "invalid")
    assert "status" in body["detail"]


def test_session_post_without_csrf_token_is_403_in_the_error_shape(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.alice)
    assert_error_shape(client.post(DIAGNOSTICS, {"steps": 2}, format="json"), 403, "permission_denied")


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (errors.InvalidInput("Bad."), 400, "invalid"),
        (errors.NotAuthenticated(), 401, "not_authenticated"),
        (errors.Forbidden(), 403, "forbidden"),
        (errors.NotFound(), 404, "not_found"),
        (errors.Conflict("Busy.", code="operation_running"), 409, "operation_running"),
        (errors.Refused("Over quota.", code="quota_exceeded", detail={"cpu": 4}), 422, "quota_exceeded"),
        (errors.Throttled(), 429, "throttled"),
    ],
)
def test_application_errors_map_to_their_status(exc, status, code):
    response = raise_through_api(exc)
    response.render()
    body = assert_error_shape(response, status, code)
    assert body["message"] == exc.message
    assert body["detail"] == exc.detail


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (Http404("no such row"), 404, "not_found"),
        (DjangoPermissionDenied(), 403, "forbidden"),
        (DjangoValidationError({"name": ["Too long."]}), 400, "invalid"),
        (DjangoValidationError("Not allowed today."), 400, "invalid"),
    ],
)
def test_django_errors_raised_in_the_api_get_the_same_shape(exc, status, code):
    response = raise_through_api(exc)
    response.render()
    body = assert_error_shape(response, status, code)
    if status == 400:
        assert body["detail"] in ({"name": ["Too long."]}, {"non_field_errors": ["Not allowed today."]})


def test_a_drf_error_not_tied_to_a_field_still_has_an_object_detail():
    from rest_framework.exceptions import ValidationError

    response = raise_through_api(ValidationError("Pick another name."))
    response.render()
    body = assert_error_shape(response, 400, "invalid")
    assert body["detail"] == {"non_field_errors": ["Pick another name."]}


@pytest.fixture
def production_errors(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "apps.core.tests.urls_errors"
    return Client(raise_request_exception=False)


@pytest.mark.django_db
def test_unknown_page_renders_the_html_404_page(production_errors):
    response = production_errors.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"There is nothing here" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/no-such-thing/", "/api/v1/core/operations/not-an-operation-id/"])
def test_unknown_api_path_renders_the_json_404(production_errors, path):
    assert_error_shape(production_errors.get(path), 404, "not_found")


@pytest.mark.django_db
def test_page_asked_for_json_gets_the_json_404(production_errors):
    response = production_errors.get("/no-such-page/", HTTP_ACCEPT="application/json")
    assert_error_shape(response, 404, "not_found")


@pytest.mark.django_db
def test_unexpected_api_failure_is_a_json_500_without_a_stack_trace(production_errors):
    response = production_errors.get("/api/v1/test/boom/")
    assert response.status_code == 500
    body = json.loads(response.content)
    assert body == {"code": "server_error", "message": body["message"], "detail": {}}
    assert b"Traceback" not in response.content
    assert SECRET_IN_EXCEPTION.encode() not in response.content


@pytest.mark.django_db
def test_unexpected_page_failure_is_an_html_500_without_a_stack_trace(production_errors):
    response = production_errors.get("/test/boom/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"Traceback" not in response.content
    assert SECRET_IN_EXCEPTION.encode() not in response.content


def test_every_client_error_of_the_operations_api_has_the_error_shape(world, alice_api):
    """A sweep over the ways a client can get operations wrong."""
    foreign = factories.operation(world.org_b)
    finished = factories.operation(world.org_a, status="succeeded")
    cases = [
        (alice_api.get(f"{OPERATIONS}{foreign.id}/"), 404),
        (alice_api.post(f"{OPERATIONS}{foreign.id}/cancel/"), 404),
        (alice_api.post(f"{OPERATIONS}{finished.id}/cancel/"), 409),
        (alice_api.get(OPERATIONS, {"cursor": "garbage"}), 404),
        (alice_api.get(OPERATIONS, {"organization": "not-a-uuid"}), 400),
        (alice_api.post(DIAGNOSTICS, {"steps": "x"}, format="json"), 400),
        (alice_api.put(f"{OPERATIONS}{finished.id}/", {}, format="json"), 405),
    ]
    for response, status in cases:
        assert_error_shape(response, status)
