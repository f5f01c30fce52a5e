from django.urls import path

from apps.rbac import views

urlpatterns = [
    path("", views.role_list, name="roles"),
    path("roles/new/", views.role_create, name="role-create"),
    path("roles/<uuid:pk>/", views.role_detail, name="role"),
    path("roles/<uuid:pk>/edit/", views.role_edit, name="role-edit"),
    path("roles/<uuid:pk>/delete/", views.role_delete, name="role-delete"),
    path("grants/", views.grant_list, name="grants"),
    path("grants/new/", views.grant_create, name="grant-create"),
    path("grants/<uuid:grant_id>/revoke/", views.grant_revoke, name="grant-revoke"),
    path("policies/", views.policy_list, name="policies"),
    path("policies/new/", views.policy_create, name="policy-create"),
    path("policies/<uuid:pk>/", views.policy_detail, name="policy"),
    path("policies/<uuid:pk>/delete/", views.policy_delete, name="policy-delete"),
    path("policies/<uuid:pk>/attach/", views.policy_attachment, {"attach": True}, name="policy-attach"),
    path("policies/<uuid:pk>/detach/", views.policy_attachment, {"attach": False}, name="policy-detach"),
    path("panel/<str:kind>/<uuid:pk>/", views.access_panel, name="panel"),
    path("explain/", views.explain_page, name="explain"),
    path("matrix/", views.matrix_page, name="matrix"),
]
