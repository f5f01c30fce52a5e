from django.urls import path

from apps.rbac import views

urlpatterns = [
    path("", views.role_list, name="roles"),
    path("grants/", views.grant_list, name="grants"),
    path("grants/<uuid:grant_id>/revoke/", views.grant_revoke, name="grant-revoke"),
    path("policies/", views.policy_list, name="policies"),
    path("explain/", views.explain_page, name="explain"),
    path("matrix/", views.matrix_page, name="matrix"),
]
