from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.security.api import views

router = SimpleRouter()
router.register("audit", views.AuditEntryViewSet, basename="audit-entry")
router.register("access-keys", views.AccessKeyViewSet, basename="access-key")
router.register("display-tokens", views.DisplayTokenViewSet, basename="display-token")
router.register("policies", views.SecurityPolicyViewSet, basename="security-policy")

urlpatterns = [
    path("lockouts/", views.LockListView.as_view(), name="lockout-list"),
    path("lockouts/<uuid:pk>/release/", views.LockReleaseView.as_view(), name="lockout-release"),
    path("mfa/", views.MfaView.as_view(), name="mfa"),
    path("mfa/enroll/", views.MfaEnrollView.as_view(), name="mfa-enroll"),
    path("mfa/confirm/", views.MfaConfirmView.as_view(), name="mfa-confirm"),
    path("mfa/recovery-codes/", views.MfaRecoveryCodesView.as_view(), name="mfa-recovery-codes"),
    path("users/<uuid:pk>/mfa-reset/", views.MfaResetView.as_view(), name="mfa-reset"),
    path("users/<uuid:pk>/mfa-exempt/", views.MfaExemptView.as_view(), name="mfa-exempt"),
    path("users/<uuid:pk>/sessions-revoke/", views.PersonSessionsRevokeView.as_view(), name="person-sessions-revoke"),
    path("sessions/", views.SessionListView.as_view(), name="session-list"),
    path("sessions/revoke-all/", views.SessionRevokeAllView.as_view(), name="session-revoke-all"),
    path("sessions/<uuid:pk>/revoke/", views.SessionRevokeView.as_view(), name="session-revoke"),
    *router.urls,
]
