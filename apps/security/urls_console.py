from django.urls import path

from apps.security import views

urlpatterns = [
    path("", views.account, name="account"),
    path("account/<slug:what>/", views.account_action, name="account-action"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
    path("lockouts/", views.lockouts, name="lockouts"),
    path("display-tokens/", views.display_tokens, name="display-tokens"),
    path("display-tokens/organizations/", views.display_token_organizations, name="display-token-organizations"),
    path("policies/", views.policy_list, name="policies"),
    path("policies/<uuid:pk>/", views.policy_detail, name="policy"),
    path("people/<uuid:pk>/panel/", views.person_panel, name="person-panel"),
    path("people/<uuid:pk>/panel/<slug:what>/", views.person_panel_action, name="person-panel-action"),
]
