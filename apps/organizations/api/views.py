from django.contrib.auth import HASH_SESSION_KEY
from django.db.models import Prefetch, Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.base import TenantListViewSet, parsed, visible
from apps.core.api.schema import THROTTLED, results_of
from apps.core.pagination import page_response
from apps.organizations import selectors, services
from apps.organizations.api import serializers as s
from apps.organizations.filters import OrganizationFilter, ProjectFilter, UserFilter, UserGroupFilter
from apps.organizations.models import Membership, Organization, Project, User, UserGroup

ORG_READ = "organizations:organization:read"
USER_READ = "organizations:user:read"
GROUP_READ = "organizations:group:read"
PROJECT_READ = "organizations:project:read"


def _org(request: Request, pk, field: str = "organization") -> Organization:
    return visible(Organization.objects.all(), request.user, ORG_READ, pk, field)


def _user(request: Request, pk) -> User:
    return visible(User.objects.all(), request.user, USER_READ, pk, "user")


class OrganizationViewSet(TenantListViewSet):
    """The organization tree (headquarters -> regions -> departments). ``?within=<id>`` lists a subtree."""

    queryset = Organization.objects.all()
    serializer_class = s.OrganizationSerializer
    filterset_class = OrganizationFilter
    read_permission = ORG_READ
    ordering = ("path", "id")

    @extend_schema(request=s.OrganizationWriteSerializer, responses={201: s.OrganizationSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.OrganizationWriteSerializer, request.data)
        parent = _org(request, data["parent"], "parent") if data.get("parent") else None
        org = services.organization_create(actor=request.user, name=data["name"], parent=parent, kind=data["kind"],
                                           description=data["description"])
        return Response(s.OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.OrganizationUpdateSerializer, responses=s.OrganizationSerializer)
    def partial_update(self, request: Request, pk=None) -> Response:
        data = parsed(s.OrganizationUpdateSerializer, request.data)
        org = services.organization_update(actor=request.user, organization=self.get_object(), **data)
        return Response(s.OrganizationSerializer(org).data)

    def destroy(self, request: Request, pk=None) -> Response:
        services.organization_delete(actor=request.user, organization=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.MoveSerializer, responses=s.OrganizationSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk=None) -> Response:
        org = self.get_object()
        data = parsed(s.MoveSerializer, request.data)
        parent = _org(request, data["parent"], "parent") if data.get("parent") else None
        org = services.organization_move(actor=request.user, organization=org, new_parent=parent)
        return Response(s.OrganizationSerializer(org).data)

    @extend_schema(request=None, responses=s.OrganizationSerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, pk=None) -> Response:
        org = services.organization_set_active(actor=request.user, organization=self.get_object(), active=False)
        return Response(s.OrganizationSerializer(org).data)

    @extend_schema(request=None, responses=s.OrganizationSerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk=None) -> Response:
        org = services.organization_set_active(actor=request.user, organization=self.get_object(), active=True)
        return Response(s.OrganizationSerializer(org).data)

    @extend_schema(request=s.UserRefSerializer,
                   responses=results_of(s.MemberSerializer, name="MemberList", cursor=True),
                   parameters=[OpenApiParameter("q", str, description="Part of a username or display name."),
                               OpenApiParameter("cursor", str), OpenApiParameter("page_size", int)])
    @action(detail=True, methods=["get", "post"])
    def members(self, request: Request, pk=None) -> Response:
        """GET: the direct members you may see, by username, a cursor page at a time (``?q=`` searches).
        POST ``{"user": id}``: add a member (then the first page)."""
        org = selectors.organization_get(actor=request.user, organization_id=pk)  # ?q= is the members' search
        if request.method == "POST":
            user = _user(request, parsed(s.UserRefSerializer, request.data)["user"])
            services.membership_add(actor=request.user, user=user, organization=org)
        rows = selectors.membership_list(actor=request.user).filter(organization=org)
        q = request.query_params.get("q", "").strip()
        if q:
            rows = rows.filter(Q(user__username__icontains=q) | Q(user__display_name__icontains=q))
        return page_response(rows, request, ("user__username", "id"), s.MemberSerializer)

    @extend_schema(request=s.UserRefSerializer, responses={204: None})
    @action(detail=True, methods=["post"], url_path="remove-member")
    def remove_member(self, request: Request, pk=None) -> Response:
        org = self.get_object()
        user = _user(request, parsed(s.UserRefSerializer, request.data)["user"])
        services.membership_remove(actor=request.user, user=user, organization=org)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserViewSet(TenantListViewSet):
    """People. A person may belong to several organizations; ``?organization=`` narrows the list."""

    queryset = User.objects.prefetch_related(Prefetch("memberships", queryset=Membership.objects.only(
        "id", "user_id", "organization_id")))
    serializer_class = s.UserSerializer
    filterset_class = UserFilter
    read_permission = USER_READ
    ordering = ("-date_joined", "-id")

    @extend_schema(request=s.UserCreateSerializer, responses={201: s.UserSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.UserCreateSerializer, request.data)
        org = _org(request, data["organization"]) if data.get("organization") else None
        user = services.user_create(actor=request.user, username=data["username"], password=data.get("password"),
                                    organization=org, email=data["email"], display_name=data["display_name"])
        return Response(s.UserSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.UserUpdateSerializer, responses=s.UserSerializer)
    def partial_update(self, request: Request, pk=None) -> Response:
        data = parsed(s.UserUpdateSerializer, request.data)
        user = services.user_update(actor=request.user, user=self.get_object(), **data)
        return Response(s.UserSerializer(user).data)

    def destroy(self, request: Request, pk=None) -> Response:
        services.user_delete(actor=request.user, user=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.PasswordSetSerializer, responses=s.SignInEndedSerializer)
    @action(detail=True, methods=["post"], url_path="set-password")
    def set_password(self, request: Request, pk=None) -> Response:
        """An administrator resets the person's password (their organization's policy applies; every
        session they have is signed out and their AccessKey pairs are disabled). Never the password
        of a platform administrator or of a separated duty's holder, but by a platform administrator."""
        person = self.get_object()
        data = parsed(s.PasswordSetSerializer, request.data)
        ended = services.user_set_password(actor=request.user, user=person, password=data["password"])
        message = (f"{person.username}'s password was reset: {_count(ended.sessions, 'session')} signed out, "
                   f"{_count(ended.access_keys, 'AccessKey pair')} disabled.")
        return Response(s.SignInEndedSerializer({"message": message, "sessions": ended.sessions,
                                                 "access_keys": ended.access_keys}).data)

    @extend_schema(request=None, responses=s.UserDisabledSerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, pk=None) -> Response:
        """The person can no longer sign in; their AccessKey pairs are disabled as well."""
        ended = services.user_set_active(actor=request.user, user=self.get_object(), active=False)
        user = ended.user
        user.access_keys_disabled = ended.access_keys
        user.message = (f"{user.username} is disabled and can no longer sign in; "
                        f"{_count(ended.access_keys, 'AccessKey pair')} disabled.")
        return Response(s.UserDisabledSerializer(user).data)

    @extend_schema(request=None, responses=s.UserSerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk=None) -> Response:
        user = services.user_set_active(actor=request.user, user=self.get_object(), active=True).user
        return Response(s.UserSerializer(user).data)


class UserGroupViewSet(TenantListViewSet):
    queryset = UserGroup.objects.prefetch_related(Prefetch("members", queryset=User.objects.only("id")))
    serializer_class = s.UserGroupSerializer
    filterset_class = UserGroupFilter
    read_permission = GROUP_READ

    @extend_schema(request=s.NamedWriteSerializer, responses={201: s.UserGroupSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.NamedWriteSerializer, request.data)
        group = services.user_group_create(actor=request.user, organization=_org(request, data["organization"]),
                                           name=data["name"], description=data["description"])
        return Response(s.UserGroupSerializer(group).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.NamedUpdateSerializer, responses=s.UserGroupSerializer)
    def partial_update(self, request: Request, pk=None) -> Response:
        data = parsed(s.NamedUpdateSerializer, request.data)
        data.pop("is_active", None)
        group = services.user_group_update(actor=request.user, group=self.get_object(), **data)
        return Response(s.UserGroupSerializer(group).data)

    def destroy(self, request: Request, pk=None) -> Response:
        services.user_group_delete(actor=request.user, group=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.UserRefSerializer, responses=s.UserGroupSerializer)
    @action(detail=True, methods=["post"], url_path="add-member")
    def add_member(self, request: Request, pk=None) -> Response:
        group = self.get_object()
        user = _user(request, parsed(s.UserRefSerializer, request.data)["user"])
        services.user_group_add_member(actor=request.user, group=group, user=user)
        return Response(s.UserGroupSerializer(group).data)

    @extend_schema(request=s.UserRefSerializer, responses=s.UserGroupSerializer)
    @action(detail=True, methods=["post"], url_path="remove-member")
    def remove_member(self, request: Request, pk=None) -> Response:
        group = self.get_object()
        user = _user(request, parsed(s.UserRefSerializer, request.data)["user"])
        services.user_group_remove_member(actor=request.user, group=group, user=user)
        return Response(s.UserGroupSerializer(group).data)


class ProjectViewSet(TenantListViewSet):
    """Projects gather users and user groups (and later cloud platforms and resources) of one
    organization; grants scoped to a project apply to its users and groups independently."""

    queryset = Project.objects.prefetch_related(Prefetch("members", queryset=User.objects.only("id")),
                                                Prefetch("groups", queryset=UserGroup.objects.only("id")))
    serializer_class = s.ProjectSerializer
    filterset_class = ProjectFilter
    read_permission = PROJECT_READ

    @extend_schema(request=s.NamedWriteSerializer, responses={201: s.ProjectSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.NamedWriteSerializer, request.data)
        project = services.project_create(actor=request.user, organization=_org(request, data["organization"]),
                                          name=data["name"], description=data["description"])
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.NamedUpdateSerializer, responses=s.ProjectSerializer)
    def partial_update(self, request: Request, pk=None) -> Response:
        data = parsed(s.NamedUpdateSerializer, request.data)
        project = services.project_update(actor=request.user, project=self.get_object(), **data)
        return Response(s.ProjectSerializer(project).data)

    def destroy(self, request: Request, pk=None) -> Response:
        services.project_delete(actor=request.user, project=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _member_change(self, request: Request, add: bool) -> Response:
        project = self.get_object()
        user = _user(request, parsed(s.UserRefSerializer, request.data)["user"])
        change = services.project_add_member if add else services.project_remove_member
        change(actor=request.user, project=project, user=user)
        return Response(s.ProjectSerializer(self.get_object()).data)

    def _group_change(self, request: Request, add: bool) -> Response:
        project = self.get_object()
        group = visible(UserGroup.objects.select_related("organization"), request.user, GROUP_READ,
                        parsed(s.GroupRefSerializer, request.data)["group"], "group")
        change = services.project_add_group if add else services.project_remove_group
        change(actor=request.user, project=project, group=group)
        return Response(s.ProjectSerializer(self.get_object()).data)

    @extend_schema(request=s.UserRefSerializer, responses=s.ProjectSerializer)
    @action(detail=True, methods=["post"], url_path="add-member")
    def add_member(self, request: Request, pk=None) -> Response:
        return self._member_change(request, True)

    @extend_schema(request=s.UserRefSerializer, responses=s.ProjectSerializer)
    @action(detail=True, methods=["post"], url_path="remove-member")
    def remove_member(self, request: Request, pk=None) -> Response:
        return self._member_change(request, False)

    @extend_schema(request=s.GroupRefSerializer, responses=s.ProjectSerializer)
    @action(detail=True, methods=["post"], url_path="add-group")
    def add_group(self, request: Request, pk=None) -> Response:
        return self._group_change(request, True)

    @extend_schema(request=s.GroupRefSerializer, responses=s.ProjectSerializer)
    @action(detail=True, methods=["post"], url_path="remove-group")
    def remove_group(self, request: Request, pk=None) -> Response:
        return self._group_change(request, False)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def keep_signed_in(request, user: User) -> None:
    """After a password change the current session stays valid (the others are not)."""
    if getattr(request, "session", None) is not None and request.user.pk == user.pk:
        request.session[HASH_SESSION_KEY] = user.get_session_auth_hash()


class PasswordChangeView(APIView):
    """Change your own password: the current one is required; your other sessions are signed out.
    Wrong current passwords count toward the sign-in lockout (429 ``signin_locked`` while locked)."""

    @extend_schema(request=s.PasswordChangeSerializer, responses={204: None, 429: THROTTLED})
    def post(self, request: Request) -> Response:
        data = parsed(s.PasswordChangeSerializer, request.data)
        session_key = request.session.session_key if getattr(request, "session", None) is not None else None
        user = services.user_password_change(user=request.user, current_password=data["current_password"],
                                             new_password=data["new_password"], keep_session_key=session_key,
                                             ip=getattr(request, "client_ip", None))
        keep_signed_in(request, user)
        return Response(status=status.HTTP_204_NO_CONTENT)
