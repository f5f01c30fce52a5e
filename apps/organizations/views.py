"""Console pages of people: the organization tree, users, user groups and projects.

Pages use the same selectors and services as the API. An object is looked up among what the user
may read (missing or invisible: 404); a change is made by its service, which decides whether the
user may make it (refused: 403, the page shown again with the reason). Bad input changes nothing
and is answered with the service's message and the status the API would give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.core.api.base import visible
from apps.core.errors import ApplicationError, InvalidInput
from apps.core.pages import LIST_LIMIT, error_fields, is_uuid, posted
from apps.core.pagination import Page, choices_page, page_of, picker_options
from apps.core.scoping import authorize
from apps.organizations import selectors, services
from apps.organizations.models import Organization, Project, User, UserGroup

ORG_READ, ORG_WRITE = "organizations:organization:read", "organizations:organization:write"
USER_READ, USER_WRITE = "organizations:user:read", "organizations:user:write"
GROUP_READ, GROUP_WRITE = "organizations:group:read", "organizations:group:write"
PROJECT_READ, PROJECT_WRITE = "organizations:project:read", "organizations:project:write"


# -- shared by the people pages ----------------------------------------------------------------

def refused(render_page: Callable[..., HttpResponse], request: HttpRequest, exc: ApplicationError,
            **kwargs: Any) -> HttpResponse:
    """The page again, with the service's refusal and the status the API gives for it."""
    return render_page(request, error=exc, status=exc.status, **kwargs)


def page_action(request: HttpRequest, obj: Any, change: Callable[[Any], str | None], *,
                page: Callable[..., HttpResponse], then: str, modal: str = "") -> HttpResponse:
    """A change a page makes to ``obj``: ``change(obj)`` calls the service and says what was done;
    a refusal shows ``obj``'s ``page`` again with the service's words, the status the API gives and
    the form's dialog (``modal``) open; done, the message and a redirect to ``then``. Shared by the
    access pages."""
    try:
        done = change(obj)
    except ApplicationError as exc:
        return page(request, obj, error=exc, status=exc.status, **({"modal": modal} if modal else {}))
    if done:
        messages.success(request, done)
    return redirect(then)


def organization_options(request: HttpRequest, action: str, *, chosen: Any = None, exclude: Q | None = None
                         ) -> Page:
    """The organizations a form's picker offers (where the user may do ``action``, less those
    ``exclude`` names), in tree order, searched as the user types. Shared by the access and
    security pages."""
    orgs = selectors.organization_choices(actor=request.user, action=action)
    if exclude is not None:
        orgs = orgs.exclude(exclude)
    return choices_page(orgs, request, ordering=("path", "id"), search=("name",), label=selectors.organization_label,
                        chosen=chosen)


def people_options(request: HttpRequest, people: QuerySet[User], *, chosen: Any = None) -> Page:
    """``people`` as a form's picker offers them, by username, searched as the user types."""
    return choices_page(people, request, ordering=("username", "id"), search=("username", "display_name", "email"),
                        label=selectors.user_label, chosen=chosen)


# -- organizations -------------------------------------------------------------------------------

def _tree_order(orgs: list[Organization]) -> list[Organization]:
    """Depth first, siblings by name (``path`` alone keeps subtrees together but orders by id)."""
    names = {str(o.pk): o.name.casefold() for o in orgs}
    return sorted(orgs, key=lambda o: [names.get(i, i) for i in o.ancestor_ids])


def _tree_page(request: HttpRequest, *, error: ApplicationError | None = None, status: int = 200) -> HttpResponse:
    user = request.user
    q = request.GET.get("q", "").strip()
    orgs = selectors.organization_list(actor=user)
    if q:
        orgs = orgs.filter(Q(name__icontains=q) | Q(description__icontains=q))
    orgs = orgs.annotate(member_count=Count("memberships", distinct=True),
                         child_count=Count("children", distinct=True)).order_by("path")
    page = page_of(orgs, request, ("path", "id"))
    parents = _tree_parents(request)
    may_create_root = authorize(user, ORG_WRITE, None)
    return render(request, "organizations/tree.html", {
        "orgs": _tree_order(page.rows), "page": page, "q": q, "error": error,
        "fields": error_fields(error), "parents": parents, "may_create_root": may_create_root,
        "can_create": may_create_root or bool(parents.rows), "kinds": Organization.Kind.choices,
        "posted": request.POST if request.method == "POST" else {},
    }, status=status)


def _tree_parents(request: HttpRequest) -> Page:
    return organization_options(request, ORG_WRITE, chosen=posted(request, "parent"))


@login_required
def organization_tree(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return picker_options(request, {"parents": lambda: _tree_parents(request)}) or _tree_page(request)
    try:
        parent = None
        if posted(request, "parent"):
            parent = visible(Organization.objects.all(), request.user, ORG_READ, posted(request, "parent"), "parent")
        org = services.organization_create(actor=request.user, name=posted(request, "name"), parent=parent,
                                           kind=posted(request, "kind") or Organization.Kind.DEPARTMENT,
                                           description=posted(request, "description"))
    except ApplicationError as exc:
        return refused(_tree_page, request, exc)
    messages.success(request, f"Organization {org.name} created.")
    return redirect("organizations:organization", org.pk)


def _organization_page(request: HttpRequest, org: Organization, *, error: ApplicationError | None = None,
                       status: int = 200, modal: str = "") -> HttpResponse:
    user = request.user
    visible_orgs = selectors.organization_list(actor=user)
    ancestors = list(visible_orgs.filter(pk__in=org.ancestor_ids).exclude(pk=org.pk).order_by("path"))
    children = list(visible_orgs.filter(parent=org).annotate(
        member_count=Count("memberships", distinct=True), child_count=Count("children", distinct=True))
        .order_by("name")[:LIST_LIMIT])
    members = list(selectors.membership_list(actor=user).filter(organization=org).order_by("user__username")
                   [:LIST_LIMIT])
    groups = list(selectors.user_group_list(actor=user).filter(organization=org)
                  .annotate(member_count=Count("members", distinct=True))[:LIST_LIMIT])
    projects = list(selectors.project_list(actor=user).filter(organization=org)
                    .annotate(member_count=Count("members", distinct=True))[:LIST_LIMIT])
    can = {
        "write": authorize(user, ORG_WRITE, org), "people": authorize(user, USER_WRITE, org),
        "groups": authorize(user, GROUP_WRITE, org), "projects": authorize(user, PROJECT_WRITE, org),
    }
    context: dict[str, Any] = {
        "org": org, "ancestors": ancestors, "children": children, "members": members, "groups": groups,
        "projects": projects, "can": can, "error": error, "fields": error_fields(error), "modal": modal,
        "kinds": Organization.Kind.choices,
    }
    if can["write"]:
        context["new_parents"] = _new_parents(request, org)
        context["may_be_root"] = authorize(user, ORG_WRITE, None)
        blockers = [label for label, n in (("sub-organizations", len(children)), ("members", len(members)),
                                            ("user groups", len(groups)), ("projects", len(projects))) if n]
        if blockers:
            context["blockers_note"] = (f"It still has {', '.join(blockers)}: the deletion will be refused until "
                                        "they are moved or removed.")
    if can["people"]:
        context["candidates"] = _member_candidates(request, org)
    return render(request, "organizations/organization_detail.html", context, status=status)


def _new_parents(request: HttpRequest, org: Organization) -> Page:
    """Where ``org`` may move: organizations the user may change, outside its own subtree and
    other than its present parent."""
    return organization_options(request, ORG_WRITE, exclude=Q(path__startswith=org.path) | Q(pk=org.parent_id))


def _member_candidates(request: HttpRequest, org: Organization) -> Page:
    """Active people the user can see who are not members of ``org`` yet."""
    people = selectors.user_list(actor=request.user).filter(is_active=True).exclude(memberships__organization=org)
    return people_options(request, people)


@login_required
def organization_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    org = selectors.organization_get(actor=request.user, organization_id=pk)
    pickers: dict[str, Callable[[], Page]] = {}
    if authorize(request.user, ORG_WRITE, org):
        pickers["parents"] = lambda: _new_parents(request, org)
    if authorize(request.user, USER_WRITE, org):
        pickers["candidates"] = lambda: _member_candidates(request, org)
    return picker_options(request, pickers) or _organization_page(request, org)


def _organization_action(request: HttpRequest, pk: Any, change: Callable[[Organization], str | None],
                         modal: str = "") -> HttpResponse:
    org = selectors.organization_get(actor=request.user, organization_id=pk)
    return page_action(request, org, change, page=_organization_page, modal=modal,
                       then=reverse("organizations:organization", args=[org.pk]))


@login_required
@require_POST
def organization_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(org: Organization) -> str:
        org = services.organization_update(actor=request.user, organization=org, name=posted(request, "name"),
                                           kind=posted(request, "kind") or org.kind,
                                           description=posted(request, "description"))
        return f"Organization {org.name} saved."
    return _organization_action(request, pk, change, modal="edit")


@login_required
@require_POST
def organization_move(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(org: Organization) -> str:
        target = posted(request, "parent")
        if not target:
            raise InvalidInput("Choose the new parent organization.", detail={"parent": ["Required."]})
        parent = None if target == "root" else visible(Organization.objects.all(), request.user, ORG_READ,
                                                       target, "parent")
        org = services.organization_move(actor=request.user, organization=org, new_parent=parent)
        return f"{org.name} moved under {parent.name if parent else 'the platform (a root)'}."
    return _organization_action(request, pk, change, modal="move")


@login_required
@require_POST
def organization_set_active(request: HttpRequest, pk: Any, active: bool) -> HttpResponse:
    def change(org: Organization) -> str:
        services.organization_set_active(actor=request.user, organization=org, active=active)
        return f"{org.name} {'enabled' if active else 'disabled, with its sub-organizations'}."
    return _organization_action(request, pk, change)


@login_required
@require_POST
def organization_delete(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(org: Organization) -> str:
        services.organization_delete(actor=request.user, organization=org)
        return f"Organization {org.name} deleted."
    return page_action(request, selectors.organization_get(actor=request.user, organization_id=pk), change,
                       page=_organization_page, then=reverse("organizations:tree"))


@login_required
@require_POST
def organization_member_add(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(org: Organization) -> str:
        person = visible(User.objects.all(), request.user, USER_READ, posted(request, "user") or None, "user")
        services.membership_add(actor=request.user, user=person, organization=org)
        return f"{person.username} is now a member of {org.name}."
    return _organization_action(request, pk, change, modal="add-member")


@login_required
@require_POST
def organization_member_remove(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(org: Organization) -> str:
        person = visible(User.objects.all(), request.user, USER_READ, posted(request, "user") or None, "user")
        services.membership_remove(actor=request.user, user=person, organization=org)
        return f"{person.username} left {org.name}."
    return _organization_action(request, pk, change)


# -- users ---------------------------------------------------------------------------------------

def _users_page(request: HttpRequest, *, error: ApplicationError | None = None, status: int = 200) -> HttpResponse:
    user = request.user
    q = request.GET.get("q", "").strip()
    people = selectors.user_list(actor=user).prefetch_related("organizations")
    if q:
        people = people.filter(Q(username__icontains=q) | Q(display_name__icontains=q) | Q(email__icontains=q))
    organization = None
    if request.GET.get("organization"):
        organization = selectors.organization_list(actor=user).filter(
            pk__in=[request.GET["organization"]] if is_uuid(request.GET["organization"]) else []).first()
        people = people.filter(memberships__organization=organization) if organization else people.none()
    page = page_of(people, request, ("username", "id"))
    homes = _user_homes(request)
    return render(request, "organizations/users.html", {
        "page": page, "q": q, "organization": organization,
        "keep": [("organization", str(organization.pk))] if organization else [], "error": error,
        "fields": error_fields(error),
        "homes": homes, "can_create": bool(homes.rows) or authorize(user, USER_WRITE, None),
        "posted": request.POST if request.method == "POST" else {},
    }, status=status)


def _user_homes(request: HttpRequest) -> Page:
    return organization_options(request, USER_WRITE, chosen=posted(request, "organization"))


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return picker_options(request, {"homes": lambda: _user_homes(request)}) or _users_page(request)
    try:
        org = None
        if posted(request, "organization"):
            org = visible(Organization.objects.all(), request.user, ORG_READ, posted(request, "organization"),
                          "organization")
        person = services.user_create(actor=request.user, username=posted(request, "username"),
                                      password=request.POST.get("password") or None, organization=org,
                                      email=posted(request, "email"), display_name=posted(request, "display_name"))
    except ApplicationError as exc:
        return refused(_users_page, request, exc)
    messages.success(request, f"User {person.username} created.")
    return redirect("organizations:user", person.pk)


def _user_page(request: HttpRequest, person: User, *, error: ApplicationError | None = None, status: int = 200,
               modal: str = "") -> HttpResponse:
    actor = request.user
    memberships = list(selectors.membership_list(actor=actor).filter(user=person).order_by("organization__path"))
    all_orgs = [m.organization for m in person.memberships.select_related("organization")]
    groups = list(selectors.user_group_list(actor=actor).filter(members=person).order_by("name")[:LIST_LIMIT])
    projects = list(selectors.project_list(actor=actor).filter(Q(members=person) | Q(groups__members=person))
                    .distinct().order_by("name")[:LIST_LIMIT])
    direct = set(person.projects.values_list("pk", flat=True))
    for project in projects:
        project.direct = project.pk in direct
    # The buttons follow the service's rule.
    may_change = services.may_change_user(actor, person, USER_WRITE)
    context = {
        "person": person, "memberships": memberships, "groups": groups, "projects": projects,
        "hidden_orgs": len(all_orgs) - len(memberships), "can_write": may_change, "is_self": actor.pk == person.pk,
        "joinable": _joinable(request, person),
        "error": error, "fields": error_fields(error), "modal": modal,
    }
    context["can_leave"] = {m.organization_id for m in memberships if authorize(actor, USER_WRITE, m.organization)}
    return render(request, "organizations/user_detail.html", context, status=status)


def _joinable(request: HttpRequest, person: User) -> Page:
    """Organizations the user may add ``person`` to, other than those ``person`` belongs to."""
    return organization_options(request, USER_WRITE, exclude=Q(memberships__user=person))


@login_required
def user_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    person = selectors.user_get(actor=request.user, user_id=pk)
    return picker_options(request, {"joinable": lambda: _joinable(request, person)}) or _user_page(request, person)


def _user_action(request: HttpRequest, pk: Any, change: Callable[[User], str], modal: str = "") -> HttpResponse:
    person = selectors.user_get(actor=request.user, user_id=pk)
    return page_action(request, person, change, page=_user_page, modal=modal,
                       then=reverse("organizations:user", args=[person.pk]))


@login_required
@require_POST
def user_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(person: User) -> str:
        services.user_update(actor=request.user, user=person, display_name=posted(request, "display_name"),
                             email=posted(request, "email"), first_name=posted(request, "first_name"),
                             last_name=posted(request, "last_name"))
        return f"{person.username} saved."
    return _user_action(request, pk, change, modal="edit")


@login_required
@require_POST
def user_password_reset(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(person: User) -> str:
        ended = services.user_set_password(actor=request.user, user=person, password=request.POST.get("password", ""))
        return (f"{person.username}'s password was reset; they were signed out everywhere and "
                f"{ended.access_keys} AccessKey pair{'' if ended.access_keys == 1 else 's'} disabled.")
    return _user_action(request, pk, change, modal="password")


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    """Change your own password (your other sessions are signed out)."""
    from apps.organizations.api.views import keep_signed_in

    error = None
    if request.method == "POST":
        try:
            user = services.user_password_change(user=request.user,
                                                 current_password=request.POST.get("current_password", ""),
                                                 new_password=request.POST.get("new_password", ""),
                                                 keep_session_key=request.session.session_key)
        except ApplicationError as exc:
            error = exc
        else:
            keep_signed_in(request, user)
            messages.success(request, "Your password was changed; your other sessions were signed out.")
            return redirect("organizations:password-change")
    return render(request, "organizations/password_change.html", {"error": error, "fields": error_fields(error)},
                  status=error.status if error else 200)


@login_required
@require_POST
def user_set_active(request: HttpRequest, pk: Any, active: bool) -> HttpResponse:
    def change(person: User) -> str:
        ended = services.user_set_active(actor=request.user, user=person, active=active)
        if active:
            return f"{person.username} enabled."
        return (f"{person.username} disabled: they can no longer sign in; {ended.access_keys} AccessKey "
                f"pair{'' if ended.access_keys == 1 else 's'} disabled.")
    return _user_action(request, pk, change)


@login_required
@require_POST
def user_delete(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(person: User) -> str:
        services.user_delete(actor=request.user, user=person)
        return f"User {person.username} deleted."
    return page_action(request, selectors.user_get(actor=request.user, user_id=pk), change, page=_user_page,
                       then=reverse("organizations:users"))


@login_required
@require_POST
def user_membership_add(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(person: User) -> str:
        org = visible(Organization.objects.all(), request.user, ORG_READ, posted(request, "organization") or None,
                      "organization")
        services.membership_add(actor=request.user, user=person, organization=org)
        return f"{person.username} is now a member of {org.name}."
    return _user_action(request, pk, change, modal="join")


@login_required
@require_POST
def user_membership_remove(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(person: User) -> str:
        org = visible(Organization.objects.all(), request.user, ORG_READ, posted(request, "organization") or None,
                      "organization")
        services.membership_remove(actor=request.user, user=person, organization=org)
        return f"{person.username} left {org.name}."
    return _user_action(request, pk, change)


# -- user groups and projects: lists -------------------------------------------------------------

def _named_list(request: HttpRequest, *, kind: str, error: ApplicationError | None = None,
                status: int = 200) -> HttpResponse:
    user = request.user
    q = request.GET.get("q", "").strip()
    items = selectors.user_group_list(actor=user) if kind == "group" else selectors.project_list(actor=user)
    if q:
        items = items.filter(Q(name__icontains=q) | Q(description__icontains=q) | Q(organization__name__icontains=q))
    page = page_of(items.annotate(member_count=Count("members", distinct=True)), request, ("name", "id"))
    homes = _named_homes(request, kind)
    return render(request, "organizations/named_list.html", {
        "kind": kind, "title": "User groups" if kind == "group" else "Projects", "rows": page.rows, "page": page,
        "q": q, "homes": homes, "error": error, "fields": error_fields(error),
        "posted": request.POST if request.method == "POST" else {},
    }, status=status)


def _named_create(request: HttpRequest, kind: str) -> HttpResponse:
    try:
        org = visible(Organization.objects.all(), request.user, ORG_READ, posted(request, "organization") or None,
                      "organization")
        create = services.user_group_create if kind == "group" else services.project_create
        item = create(actor=request.user, organization=org, name=posted(request, "name"),
                      description=posted(request, "description"))
    except ApplicationError as exc:
        return _named_list(request, kind=kind, error=exc, status=exc.status)
    messages.success(request, f"{'User group' if kind == 'group' else 'Project'} {item.name} created.")
    return redirect("organizations:group" if kind == "group" else "organizations:project", item.pk)


def _named_homes(request: HttpRequest, kind: str) -> Page:
    """Where the user may create a user group or project (the form's organization picker)."""
    return organization_options(request, GROUP_WRITE if kind == "group" else PROJECT_WRITE,
                        chosen=posted(request, "organization") or request.GET.get("new"))


def _named_page(request: HttpRequest, kind: str) -> HttpResponse:
    if request.method == "POST":
        return _named_create(request, kind)
    return picker_options(request, {"homes": lambda: _named_homes(request, kind)}) or _named_list(request, kind=kind)


@login_required
def group_list(request: HttpRequest) -> HttpResponse:
    return _named_page(request, "group")


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    return _named_page(request, "project")


def _people_of(request: HttpRequest, org: Organization, members: QuerySet[User]) -> Page:
    """Active people of ``org`` and its descendants the user can see, less ``members``, for the
    "add member" pickers of user groups and projects."""
    people = selectors.people_choices(actor=request.user, organization=org).exclude(pk__in=members.values("pk"))
    return people_options(request, people)


# -- user groups ---------------------------------------------------------------------------------

def _group_page(request: HttpRequest, group: UserGroup, *, error: ApplicationError | None = None, status: int = 200,
                modal: str = "") -> HttpResponse:
    members = list(group.members.order_by("username")[:LIST_LIMIT])
    can_write = authorize(request.user, GROUP_WRITE, group)
    context = {
        "group": group, "members": members, "can_write": can_write, "error": error, "fields": error_fields(error),
        "modal": modal,
        "projects": list(selectors.project_list(actor=request.user).filter(groups=group).order_by("name")),
        "candidates": _people_of(request, group.organization, group.members.all()) if can_write else None,
    }
    return render(request, "organizations/group_detail.html", context, status=status)


@login_required
def group_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    group = selectors.user_group_get(actor=request.user, group_id=pk)
    pickers: dict[str, Callable[[], Page]] = {}
    if authorize(request.user, GROUP_WRITE, group):
        pickers["candidates"] = lambda: _people_of(request, group.organization, group.members.all())
    return picker_options(request, pickers) or _group_page(request, group)


def _group_action(request: HttpRequest, pk: Any, change: Callable[[UserGroup], str], modal: str = "") -> HttpResponse:
    group = selectors.user_group_get(actor=request.user, group_id=pk)
    return page_action(request, group, change, page=_group_page, modal=modal,
                       then=reverse("organizations:group", args=[group.pk]))


@login_required
@require_POST
def group_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(group: UserGroup) -> str:
        group = services.user_group_update(actor=request.user, group=group, name=posted(request, "name"),
                                           description=posted(request, "description"))
        return f"User group {group.name} saved."
    return _group_action(request, pk, change, modal="edit")


@login_required
@require_POST
def group_delete(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(group: UserGroup) -> str:
        services.user_group_delete(actor=request.user, group=group)
        return f"User group {group.name} deleted."
    return page_action(request, selectors.user_group_get(actor=request.user, group_id=pk), change,
                       page=_group_page, then=reverse("organizations:groups"))


@login_required
@require_POST
def group_member(request: HttpRequest, pk: Any, add: bool) -> HttpResponse:
    def change(group: UserGroup) -> str:
        person = visible(User.objects.all(), request.user, USER_READ, posted(request, "user") or None, "user")
        if add:
            services.user_group_add_member(actor=request.user, group=group, user=person)
            return f"{person.username} joined {group.name}."
        services.user_group_remove_member(actor=request.user, group=group, user=person)
        return f"{person.username} left {group.name}."
    return _group_action(request, pk, change, modal="add-member" if add else "")


# -- projects ------------------------------------------------------------------------------------

def _project_page(request: HttpRequest, project: Project, *, error: ApplicationError | None = None,
                  status: int = 200, modal: str = "") -> HttpResponse:
    members = list(project.members.order_by("username")[:LIST_LIMIT])
    groups = list(project.groups.select_related("organization").annotate(
        member_count=Count("members", distinct=True)).order_by("name")[:LIST_LIMIT])
    can_write = authorize(request.user, PROJECT_WRITE, project)
    context: dict[str, Any] = {
        "project": project, "members": members, "groups": groups, "can_write": can_write, "error": error,
        "fields": error_fields(error), "modal": modal,
    }
    if can_write:
        context["candidates"] = _people_of(request, project.organization, project.members.all())
        context["group_candidates"] = _group_candidates(request, project)
    return render(request, "organizations/project_detail.html", context, status=status)


def _group_candidates(request: HttpRequest, project: Project) -> Page:
    """User groups of the project's organization and below that the user can see, not attached yet."""
    groups = selectors.user_group_list(actor=request.user).filter(
        organization__path__startswith=project.organization.path).exclude(pk__in=project.groups.values("pk"))
    return choices_page(groups, request, ordering=("name", "id"), search=("name", "organization__name"),
                        label=selectors.named_label)


@login_required
def project_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    project = selectors.project_get(actor=request.user, project_id=pk)
    pickers: dict[str, Callable[[], Page]] = {}
    if authorize(request.user, PROJECT_WRITE, project):
        pickers["candidates"] = lambda: _people_of(request, project.organization, project.members.all())
        pickers["groups"] = lambda: _group_candidates(request, project)
    return picker_options(request, pickers) or _project_page(request, project)


def _project_action(request: HttpRequest, pk: Any, change: Callable[[Project], str], modal: str = "") -> HttpResponse:
    project = selectors.project_get(actor=request.user, project_id=pk)
    return page_action(request, project, change, page=_project_page, modal=modal,
                       then=reverse("organizations:project", args=[project.pk]))


@login_required
@require_POST
def project_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(project: Project) -> str:
        project = services.project_update(actor=request.user, project=project, name=posted(request, "name"),
                                          description=posted(request, "description"))
        return f"Project {project.name} saved."
    return _project_action(request, pk, change, modal="edit")


@login_required
@require_POST
def project_set_active(request: HttpRequest, pk: Any, active: bool) -> HttpResponse:
    def change(project: Project) -> str:
        services.project_update(actor=request.user, project=project, is_active=active)
        return f"Project {project.name} {'enabled' if active else 'disabled: its grants stop giving access'}."
    return _project_action(request, pk, change)


@login_required
@require_POST
def project_delete(request: HttpRequest, pk: Any) -> HttpResponse:
    def change(project: Project) -> str:
        services.project_delete(actor=request.user, project=project)
        return f"Project {project.name} deleted."
    return page_action(request, selectors.project_get(actor=request.user, project_id=pk), change,
                       page=_project_page, then=reverse("organizations:projects"))


@login_required
@require_POST
def project_member(request: HttpRequest, pk: Any, add: bool) -> HttpResponse:
    def change(project: Project) -> str:
        person = visible(User.objects.all(), request.user, USER_READ, posted(request, "user") or None, "user")
        if add:
            services.project_add_member(actor=request.user, project=project, user=person)
            return f"{person.username} joined {project.name}."
        services.project_remove_member(actor=request.user, project=project, user=person)
        return f"{person.username} left {project.name}."
    return _project_action(request, pk, change, modal="add-member" if add else "")


@login_required
@require_POST
def project_group(request: HttpRequest, pk: Any, add: bool) -> HttpResponse:
    def change(project: Project) -> str:
        group = visible(UserGroup.objects.select_related("organization"), request.user, GROUP_READ,
                        posted(request, "group") or None, "group")
        if add:
            services.project_add_group(actor=request.user, project=project, group=group)
            return f"User group {group.name} added to {project.name}."
        services.project_remove_group(actor=request.user, project=project, group=group)
        return f"User group {group.name} removed from {project.name}."
    return _project_action(request, pk, change, modal="add-group" if add else "")
