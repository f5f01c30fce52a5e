from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core import views as core_views
from apps.security import views as security_views

api_v1 = [
    path("core/", include("apps.core.api.urls")),
    path("organizations/", include("apps.organizations.api.urls")),
    path("rbac/", include("apps.rbac.api.urls")),
    path("security/", include("apps.security.api.urls")),
    path("clouds/", include("apps.clouds.api.urls")),
    path("resources/", include("apps.resources.api.urls")),
    path("provisioning/", include("apps.provisioning.api.urls")),
    path("quotas/", include("apps.quotas.api.urls")),
    path("billing/", include("apps.billing.api.urls")),
    path("alerts/", include("apps.alerts.api.urls")),
    path("dashboards/", include("apps.dashboards.api.urls")),
    path("resilience/", include("apps.resilience.api.urls")),
]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", core_views.metrics, name="metrics"),
    path("signin/", security_views.signin, name="login"),
    path("signin/mfa/", security_views.signin_mfa, name="login-mfa"),
    path("signout/", auth_views.LogoutView.as_view(), name="logout"),
    path("portal/", include(("apps.core.urls_portal", "portal"))),
    path("console/", include(("apps.core.urls_console", "console"))),
    # Wall screens open with a display token; people keep the core screen page (same URL).
    # Dashboards' own wall-screen routes come first; the display-token sign-in stays with security.
    path("screens/", include(("apps.dashboards.urls_screens", "dashboards-screens"))),
    path("screens/", include(("apps.security.urls_screens", "wallscreens"))),
    path("screens/", include(("apps.core.urls_screens", "screens"))),
    path("console/organizations/", include(("apps.organizations.urls_console", "organizations"))),
    path("console/access/", include(("apps.rbac.urls_console", "access"))),
    path("console/security/", include(("apps.security.urls_console", "security"))),
    path("console/clouds/", include(("apps.clouds.urls_console", "clouds"))),
    path("console/inventory/", include(("apps.resources.urls_console", "inventory"))),
    path("portal/provisioning/", include(("apps.provisioning.urls_portal", "provisioning"))),
    path("console/provisioning/", include(("apps.provisioning.urls_console", "provisioning-console"))),
    path("console/quotas/", include(("apps.quotas.urls_console", "quotas"))),
    path("portal/quotas/", include(("apps.quotas.urls_portal", "quotas-portal"))),
    path("console/billing/", include(("apps.billing.urls_console", "billing"))),
    path("portal/billing/", include(("apps.billing.urls_portal", "billing-portal"))),
    path("console/alerts/", include(("apps.alerts.urls_console", "alerts"))),
    path("portal/alerts/", include(("apps.alerts.urls_portal", "alerts-portal"))),
    path("console/dashboards/", include(("apps.dashboards.urls_console", "dashboards"))),
    path("portal/dashboards/", include(("apps.dashboards.urls_portal", "dashboards-portal"))),
    path("console/resilience/", include(("apps.resilience.urls_console", "resilience"))),
    path("portal/resilience/", include(("apps.resilience.urls_portal", "resilience-portal"))),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler400 = "apps.core.views.error_400"
handler403 = "apps.core.views.error_403"
handler404 = "apps.core.views.error_404"
handler500 = "apps.core.views.error_500"
