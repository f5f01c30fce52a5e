"""The exact error a client reads for each kind of failure: status, code, message, detail and the
headers that tell it what to do next (sign in, retry later)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.permissions import AllowAny
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from apps.core import errors
from tests.fixtures import api_as

OPERATIONS = "/api/v1/core/operations/"
DIAGNOSTICS = "/api/v1/core/operations/diagnostics/"


class Raises(APIView):
    permission_classes = [AllowAny]
    exc: Exception | None = None

    def get(self, request):
        raise self.exc


class NoChallenge(Raises):
    """An endpoint none of whose authenticators offers a challenge."""

    authentication_classes = []


def answer(exc: Exception, view: type[APIView] = Raises):
    response = view.as_view(exc=exc)(APIRequestFactory().get("/api/v1/test/"))
    response.render()
    return response


# Each error is built inside its test (from a factory), not when the module is collected, so the test
# sees what the constructor does with its message, code and detail.
@pytest.mark.parametrize(("make", "status", "body"), [
    (lambda: errors.ApplicationError(), 422, {"code": "refused", "message": "The request was refused.",
                                              "detail": {}}),
    (lambda: errors.InvalidInput(), 400, {"code": "invalid", "message": "The request is not valid.", "detail": {}}),
    (lambda: errors.NotAuthenticated(), 401, {"code": "not_authenticated", "message": "Sign in to continue.",
                                              "detail": {}}),
    (lambda: errors.Forbidden(), 403, {"code": "forbidden", "message": "You are not allowed to do this.",
                                       "detail": {}}),
    (lambda: errors.NotFound(), 404, {"code": "not_found", "message": "Not found.", "detail": {}}),
    (lambda: errors.Conflict(), 409, {"code": "conflict", "message": "The request conflicts with the current state.",
                                      "detail": {}}),
    (lambda: errors.Refused(), 422, {"code": "refused", "message": "The request was refused.", "detail": {}}),
    (lambda: errors.Throttled(), 429, {"code": "throttled", "message": "Too many requests; try again later.",
                                       "detail": {}}),
    (lambda: errors.Conflict("Busy.", code="operation_running", detail={"operation": "op-1"}), 409,
     {"code": "operation_running", "message": "Busy.", "detail": {"operation": "op-1"}}),
    (lambda: errors.Refused("Nothing to refund.", detail=[]), 422, {"code": "refused", "message": "Nothing to refund.",
                                                                    "detail": []}),
    (lambda: errors.NotFound("No such project."), 404, {"code": "not_found", "message": "No such project.",
                                                        "detail": {}}),
])
def test_each_application_error_has_its_status_code_and_default_message(make, status, body):
    exc = make()
    response = answer(exc)
    assert (response.status_code, response.data) == (status, body)
    assert str(exc) == body["message"]
    assert exc.args == (body["message"],)


def test_an_error_without_detail_has_an_empty_object_and_a_given_detail_is_kept_as_is():
    assert errors.Refused().detail == {}
    assert errors.Refused(detail=None).detail == {}
    given = {"field": ["Too long."]}
    assert errors.InvalidInput("Bad.", detail=given).detail is given
    assert errors.InvalidInput("Bad.", detail=0).detail == 0


def test_a_code_given_to_one_error_does_not_change_its_class():
    errors.Conflict("x", code="special")
    assert errors.Conflict().code == "conflict"


@pytest.mark.parametrize(("exc", "status", "body"), [
    (Http404("row 7 of table secret"), 404, {"code": "not_found", "message": "Not found.", "detail": {}}),
    (DjangoPermissionDenied("internal reason"), 403,
     {"code": "forbidden", "message": "You are not allowed to do this.", "detail": {}}),
    (DjangoValidationError({"name": ["Too long."]}), 400,
     {"code": "invalid", "message": "The request is not valid.", "detail": {"name": ["Too long."]}}),
    (DjangoValidationError("Not allowed today."), 400,
     {"code": "invalid", "message": "The request is not valid.",
      "detail": {"non_field_errors": ["Not allowed today."]}}),
])
def test_django_errors_keep_their_reasons_on_the_server(exc, status, body):
    response = answer(exc)
    assert (response.status_code, response.data) == (status, body)


def test_a_drf_validation_error_says_to_look_at_each_field():
    response = answer(drf.ValidationError({"name": ["Pick another."]}))
    assert response.status_code == 400
    assert response.data == {"code": "invalid", "message": "The request is not valid; see detail for each field.",
                             "detail": {"name": ["Pick another."]}}


def test_a_drf_error_with_a_message_keeps_it_and_its_code():
    response = answer(drf.NotFound("No such widget."))
    assert (response.status_code, response.data) == (404, {"code": "not_found", "message": "No such widget.",
                                                           "detail": {}})
    response = answer(drf.PermissionDenied({"reason": "frozen"}))
    assert response.status_code == 403
    assert response.data == {"code": "permission_denied", "message": "You do not have permission to perform this "
                                                                     "action.", "detail": {"reason": "frozen"}}


def test_a_drf_error_raised_with_its_own_code_answers_that_code():
    response = answer(drf.PermissionDenied("The project is frozen.", code="project_frozen"))
    assert (response.status_code, response.data) == (403, {"code": "project_frozen",
                                                           "message": "The project is frozen.", "detail": {}})


def test_a_drf_error_with_several_codes_takes_its_own_code():
    response = answer(drf.ParseError({"a": "x", "b": "y"}))
    assert response.status_code == 400
    assert response.data["code"] == "parse_error"


def test_being_throttled_says_when_to_retry():
    response = answer(drf.Throttled(wait=41))
    assert response.status_code == 429
    assert response["Retry-After"] == "41"
    assert response.data["code"] == "throttled"
    assert not answer(drf.Throttled()).has_header("Retry-After")


def test_an_unauthenticated_request_is_401_with_the_session_challenge_when_no_other_is_offered():
    for exc in (drf.NotAuthenticated(), drf.AuthenticationFailed("Bad signature.")):
        response = answer(exc, NoChallenge)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Session realm="unimanager"'
    assert answer(drf.AuthenticationFailed("Bad signature."), NoChallenge).data == {
        "code": "authentication_failed", "message": "Bad signature.", "detail": {}}


@pytest.mark.django_db
def test_an_unauthenticated_api_call_is_401_with_the_signature_challenge():
    response = api_as(None).get(OPERATIONS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'UM-HMAC-SHA256 realm="Unimanager"'
    assert response.json() == {"code": "not_authenticated",
                               "message": "Authentication credentials were not provided.", "detail": {}}


def test_an_exception_that_is_not_a_client_error_is_left_to_the_server():
    from apps.core.errors import api_exception_handler

    assert api_exception_handler(RuntimeError("boom"), {}) is None
