"""The security center's API: audit log, AccessKey pairs, display tokens, policies, lockouts, MFA and
sessions. Thin: parse, look up among what the user may read, call a service, render."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.base import TenantListViewSet, TenantViewSetMixin, parsed, visible
from apps.core.api.schema import results_of
from apps.core.errors import NotFound
from apps.core.pages import csv_stream
from apps.organizations.models import Organization, User
from apps.organizations.selectors import user_get
from apps.security import qr, selectors, services
from apps.security.api import serializers as s
from apps.security.filters import AccessKeyFilter, AuditEntryFilter, DisplayTokenFilter, SecurityPolicyFilter
from apps.security.models import AccessKey, AuditEntry, DisplayToken, RecoveryCode, SecurityPolicy
from apps.security.policy import account_security, mfa_required


class AuditEntryViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """The append-only audit log. Filter by ``actor``, ``action`` (or a prefix ending in '.'),
    ``target_type``/``target_id``, ``result``, ``since``/``until`` (ISO times) and ``organization``."""

    queryset = AuditEntry.objects.all()
    serializer_class = s.AuditEntrySerializer
    filterset_class = AuditEntryFilter
    ordering = ("-id",)
    lookup_value_regex = r"[0-9]{1,18}"
    selector = staticmethod(selectors.audit_entry_list)

    @extend_schema(responses={(200, "text/csv"): str})
    @action(detail=False, methods=["get"], url_path="export")
    def export(self, request: Request) -> StreamingHttpResponse:
        """The filtered log as CSV (needs ``audit:log:export``), oldest first, at most 1,000,000 rows."""
        qs = self.filter_queryset(selectors.audit_entry_list(actor=request.user, action=selectors.AUDIT_EXPORT))
        return csv_stream(selectors.audit_csv_rows(qs.order_by("id")[:1_000_000].iterator(chunk_size=2000)),
                          "audit-log.csv")


class AccessKeyViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                       viewsets.GenericViewSet):
    """AccessKey pairs: your own, and those of people whose keys you may oversee. At most two are
    active; the secret is returned once, by ``create`` and ``rotate``."""

    queryset = AccessKey.objects.all()
    serializer_class = s.AccessKeySerializer
    filterset_class = AccessKeyFilter
    ordering = ("-created_at", "id")
    lookup_value_regex = r"UMAK[A-Z0-9]{20}"
    selector = staticmethod(selectors.access_key_list)

    @extend_schema(request=s.AccessKeyCreateSerializer, responses={201: s.AccessKeyCreatedSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.AccessKeyCreateSerializer, request.data)
        key, secret = services.access_key_create(actor=request.user, description=data["description"])
        key.secret = secret
        return Response(s.AccessKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk=None) -> Response:
        services.access_key_delete(actor=request.user, key=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=s.AccessKeySerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, pk=None) -> Response:
        key = services.access_key_set_active(actor=request.user, key=self.get_object(), active=False)
        return Response(s.AccessKeySerializer(key).data)

    @extend_schema(request=None, responses=s.AccessKeySerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk=None) -> Response:
        key = services.access_key_set_active(actor=request.user, key=self.get_object(), active=True)
        return Response(s.AccessKeySerializer(key).data)

    @extend_schema(request=None, responses={201: s.AccessKeyCreatedSerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk=None) -> Response:
        key, secret = services.access_key_rotate(actor=request.user, key=self.get_object())
        key.secret = secret
        return Response(s.AccessKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)


class DisplayTokenViewSet(TenantListViewSet):
    """Read-only tokens of wall screens, each opening only its dashboards; revoked, never edited."""

    queryset = DisplayToken.objects.all()
    serializer_class = s.DisplayTokenSerializer
    filterset_class = DisplayTokenFilter
    ordering = ("-created_at", "id")
    selector = staticmethod(selectors.display_token_list)

    @extend_schema(request=s.DisplayTokenCreateSerializer, responses={201: s.DisplayTokenCreatedSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.DisplayTokenCreateSerializer, request.data)
        org = visible(Organization.objects.all(), request.user, "organizations:organization:read",
                      data["organization"], "organization")
        token, raw = services.display_token_create(actor=request.user, organization=org, name=data["name"],
                                                   dashboards=data["dashboards"],
                                                   allowed_networks=data["allowed_networks"])
        token.token = raw
        return Response(s.DisplayTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.DisplayTokenSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk=None) -> Response:
        token = services.display_token_revoke(actor=request.user, token=self.get_object())
        return Response(s.DisplayTokenSerializer(token).data)


class SecurityPolicyViewSet(TenantListViewSet):
    """Password, lockout and MFA policy per organization (applies to its descendants too; the
    strictest policy of a person's organizations wins). ``POST`` creates or replaces values."""

    queryset = SecurityPolicy.objects.all()
    serializer_class = s.SecurityPolicySerializer
    filterset_class = SecurityPolicyFilter
    ordering = ("organization__path", "id")
    selector = staticmethod(selectors.security_policy_list)

    @extend_schema(request=s.SecurityPolicyWriteSerializer, responses=s.SecurityPolicySerializer)
    def create(self, request: Request) -> Response:
        data = dict(parsed(s.SecurityPolicyWriteSerializer, request.data))
        org = visible(Organization.objects.all(), request.user, "organizations:organization:read",
                      data.pop("organization", None), "organization")
        policy = services.security_policy_set(actor=request.user, organization=org, **data)
        return Response(s.SecurityPolicySerializer(policy).data)

    @extend_schema(request=s.SecurityPolicyWriteSerializer, responses=s.SecurityPolicySerializer)
    def partial_update(self, request: Request, pk=None) -> Response:
        policy = self.get_object()
        data = dict(parsed(s.SecurityPolicyWriteSerializer, request.data, partial=True))
        data.pop("organization", None)
        policy = services.security_policy_set(actor=request.user, organization=policy.organization, **data)
        return Response(s.SecurityPolicySerializer(policy).data)


class LockListView(APIView):
    """Account names and client addresses locked after repeated failed sign-ins."""

    @extend_schema(responses=results_of(s.SignInLockSerializer, name="SignInLockList"))
    def get(self, request: Request) -> Response:
        rows = selectors.lock_list(actor=request.user).order_by("-last_failure_at")[:500]
        return Response({"results": s.SignInLockSerializer(rows, many=True).data})


class LockReleaseView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, pk: str) -> Response:
        lock = selectors.lock_list(actor=request.user).filter(pk=pk).first()
        if lock is None:
            raise NotFound()
        services.lock_release(actor=request.user, lock=lock)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _mfa_status(user) -> dict:
    sec = account_security(user)
    return {"enabled": sec.mfa_enabled, "required": mfa_required(user), "exempt": sec.mfa_exempt,
            "recovery_codes_left": RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()}


class MfaView(APIView):
    """Your second factor: status, and enrolment (``enroll`` then ``confirm`` with the first code)."""

    @extend_schema(responses=s.MfaStatusSerializer)
    def get(self, request: Request) -> Response:
        return Response(_mfa_status(request.user))


class MfaEnrollView(APIView):
    @extend_schema(request=None, responses=s.MfaEnrollmentSerializer)
    def post(self, request: Request) -> Response:
        secret, uri = services.mfa_enrollment_start(user=request.user)
        return Response({"secret": secret, "uri": uri, "qr_svg": qr.svg(uri)})


class MfaConfirmView(APIView):
    @extend_schema(request=s.CodeSerializer, responses=s.RecoveryCodesSerializer)
    def post(self, request: Request) -> Response:
        code = parsed(s.CodeSerializer, request.data)["code"]
        return Response({"recovery_codes": services.mfa_enrollment_confirm(user=request.user, code=code)})


class MfaRecoveryCodesView(APIView):
    @extend_schema(request=s.CodeSerializer, responses=s.RecoveryCodesSerializer)
    def post(self, request: Request) -> Response:
        code = parsed(s.CodeSerializer, request.data)["code"]
        return Response({"recovery_codes": services.mfa_recovery_codes_regenerate(user=request.user, code=code)})


def _person(request: Request, pk: str) -> User:
    return user_get(actor=request.user, user_id=pk)


class MfaResetView(APIView):
    """An administrator removes a person's second factor (recorded in the audit log)."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, pk: str) -> Response:
        services.mfa_reset(actor=request.user, user=_person(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MfaExemptView(APIView):
    @extend_schema(request=s.ExemptSerializer, responses={204: None})
    def post(self, request: Request, pk: str) -> Response:
        person = _person(request, pk)  # another organization's person is a 404 whatever the body says
        exempt = parsed(s.ExemptSerializer, request.data)["exempt"]
        services.mfa_set_exempt(actor=request.user, user=person, exempt=exempt)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PersonSessionsRevokeView(APIView):
    """An administrator signs a person out everywhere (as the security panel of their page does)."""

    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, pk: str) -> Response:
        count = services.sessions_revoke_all(actor=request.user, user=_person(request, pk))
        return Response({"revoked": count})


class SessionListView(APIView):
    """Your signed-in sessions."""

    @extend_schema(responses=results_of(s.UserSessionSerializer, name="UserSessionList"))
    def get(self, request: Request) -> Response:
        rows = selectors.session_list(user=request.user)[:200]
        return Response({"results": s.UserSessionSerializer(rows, many=True, context={"request": request}).data})


class SessionRevokeView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, pk: str) -> Response:
        session = selectors.session_list(user=request.user).filter(pk=pk).first()
        if session is None:
            raise NotFound()
        services.session_revoke(actor=request.user, session=session)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionRevokeAllView(APIView):
    """Sign out everywhere else (this session stays signed in)."""

    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request) -> Response:
        count = services.sessions_revoke_all(actor=request.user, user=request.user,
                                             keep_session_key=request.session.session_key)
        return Response({"revoked": count})
