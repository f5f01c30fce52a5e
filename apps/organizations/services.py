"""Writes of the organizations app: the organization tree, people, user groups and projects.

Every service checks that ``actor`` may do it (``actor=None`` is the system itself: demo data,
migrations), changes nothing when it refuses, and announces the change with ``emit`` after commit.
Nothing is orphaned: an organization with children, members, user groups, projects or data of other
apps cannot be deleted, and the refusal says what still depends on it.

Later apps add rules to the people side from their own ``apps.py``, so this app never imports
them: ``register_membership_guard`` (the RBAC app refuses a membership that would give one person
two separated duties), ``register_duties_lookup`` (which separated duties a person holds) and
``install_signin_hooks`` (the security app ends sessions and AccessKey pairs and counts wrong
passwords toward the sign-in lockout).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError

from apps.core.errors import Conflict, Forbidden, InvalidInput, Refused
from apps.core.events import emit
from apps.core.scoping import require
from apps.organizations.models import Membership, Organization, Project, User, UserGroup

# guard(users, via) raises an ApplicationError when adding ``users`` through ``via`` (an
# Organization, UserGroup or Project) would break a rule of a later app.
MembershipGuard = Callable[[Iterable[User], Any], None]
_membership_guards: list[MembershipGuard] = []


def register_membership_guard(guard: MembershipGuard) -> None:
    if guard not in _membership_guards:
        _membership_guards.append(guard)


def _check_guards(users: Iterable[User], via: Any) -> None:
    users = list(users)
    for guard in _membership_guards:
        guard(users, via)


# lookup(user) -> the separated duties (system administrator, security administrator, security
# auditor) the person holds, however they hold them.
DutiesLookup = Callable[[User], set[str]]
_duties_lookups: list[DutiesLookup] = []


def register_duties_lookup(lookup: DutiesLookup) -> None:
    if lookup not in _duties_lookups:
        _duties_lookups.append(lookup)


def user_duties(user: User) -> set[str]:
    """The separated duties ``user`` holds (none until the RBAC app tells)."""
    return set().union(*(lookup(user) for lookup in _duties_lookups))


@dataclass(frozen=True)
class SignInHooks:
    """What the security app does for the people side; each callable changes nothing it is not
    asked to and checks no permission (the people service calling it already has)."""

    # (user, session key to keep or None) -> number of sessions signed out
    end_sessions: Callable[[User, str | None], int]
    # (user) -> number of AccessKey pairs disabled
    disable_access_keys: Callable[[User], int]
    # (user, client address) -> raises while the account name or the address is locked out
    refuse_when_locked: Callable[[User, str | None], None]
    # (user, client address) -> counts a wrong password toward the lockout
    count_wrong_password: Callable[[User, str | None], None]


_signin_hooks: SignInHooks | None = None


def install_signin_hooks(hooks: SignInHooks) -> None:
    global _signin_hooks
    _signin_hooks = hooks


def _clean_name(name: Any, field: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{field} is required.", detail={field: ["This field is required."]})
    name = name.strip()
    if len(name) > 128:
        raise InvalidInput(f"{field} is too long.", detail={field: ["At most 128 characters."]})
    return name


def _announce(org_id: Any, topic: str, event: str, **data: Any) -> None:
    emit(org_id, topic, {"event": event, **{k: _plain(v) for k, v in data.items()}})


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str | dict):
        return value
    return str(value)


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``before`` and ``after`` of the fields a change touched, for the event (and the audit log)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {"before": {k: _plain(before.get(k)) for k in keys}, "after": {k: _plain(after.get(k)) for k in keys}}


def _fields(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(obj, n) for n in names}


ORG_FIELDS = ("name", "kind", "description")
USER_FIELDS = ("email", "display_name", "first_name", "last_name")
NAMED_FIELDS = ("name", "description")
PROJECT_FIELDS = ("name", "description", "is_active")


def _org_payload(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "kind": org.kind, "parent": org.parent_id, "path": org.path,
            "is_active": org.is_active}


def _dependents(exc: ProtectedError | RestrictedError) -> list[str]:
    """What still refers to an object through protected foreign keys (for a refusal message)."""
    objects = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", None) or []
    return sorted({str(obj._meta.verbose_name_plural) for obj in objects})


def _delete_or_refuse(obj: Any, message: str, *, code: str) -> None:
    """Delete ``obj``, or refuse (nothing deleted) naming the data that still holds on to it;
    ``message`` has one ``{}`` for that list."""
    try:
        with transaction.atomic():
            obj.delete()
    except (ProtectedError, RestrictedError) as exc:
        others = _dependents(exc)
        raise Refused(message.format(", ".join(others)), code=code, detail={"blockers": others}) from None

# -- organizations -----------------------------------------------------------------------------

@transaction.atomic
def organization_create(*, actor: Any, name: str, parent: Organization | None = None,
                        kind: str = Organization.Kind.DEPARTMENT, description: str = "") -> Organization:
    """A root organization needs the permission platform-wide; a child needs it on the parent."""
    name = _clean_name(name)
    if kind not in Organization.Kind.values:
        raise InvalidInput("Unknown organization kind.", detail={"kind": [f"One of {Organization.Kind.values}."]})
    require(actor, "organizations:organization:write", parent)
    if parent is not None and not parent.is_active:
        raise Refused("The parent organization is disabled.", code="parent_disabled")
    if Organization.objects.filter(parent=parent, name=name).exists():
        raise Conflict("An organization with this name already exists here.", code="name_taken",
                       detail={"name": ["Already used under this parent."]})
    org = Organization.objects.create(name=name, parent=parent, kind=kind, description=description or "")
    _announce(org.id, org.topic, "created", **_org_payload(org))
    return org


@transaction.atomic
def organization_update(*, actor: Any, organization: Organization, name: str | None = None,
                        kind: str | None = None, description: str | None = None) -> Organization:
    require(actor, "organizations:organization:write", organization)
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    before = _fields(org, ORG_FIELDS)
    if name is not None:
        name = _clean_name(name)
        if Organization.objects.filter(parent_id=org.parent_id, name=name).exclude(pk=org.pk).exists():
            raise Conflict("An organization with this name already exists here.", code="name_taken",
                           detail={"name": ["Already used under this parent."]})
        org.name = name
    if kind is not None:
        if kind not in Organization.Kind.values:
            raise InvalidInput("Unknown organization kind.", detail={"kind": [f"One of {Organization.Kind.values}."]})
        org.kind = kind
    if description is not None:
        org.description = description
    org.save()
    _announce(org.id, org.topic, "updated", **_org_payload(org), **_changed(before, _fields(org, ORG_FIELDS)))
    return org


@transaction.atomic
def organization_move(*, actor: Any, organization: Organization, new_parent: Organization | None) -> Organization:
    """Move a subtree under ``new_parent`` (``None``: make it a root). The paths of every
    descendant are rewritten in the same transaction, so the tree is never half moved. The
    people of the subtree become members of the new parent's chain, so the membership guards
    (separation of duties) run for each of them first."""
    require(actor, "organizations:organization:write", organization)
    require(actor, "organizations:organization:write", new_parent)
    # Lock the subtree in primary-key order so two concurrent moves cannot deadlock.
    nodes = list(Organization.objects.select_for_update().filter(path__startswith=organization.path).order_by("pk"))
    org = next(n for n in nodes if n.pk == organization.pk)
    if new_parent is not None:
        new_parent = Organization.objects.get(pk=new_parent.pk)
        if new_parent.path.startswith(org.path):
            raise Refused("An organization cannot be moved under itself or one of its descendants.",
                          code="organization_cycle")
        if not new_parent.is_active:
            raise Refused("The new parent organization is disabled.", code="parent_disabled")
    if Organization.objects.filter(parent=new_parent, name=org.name).exclude(pk=org.pk).exists():
        raise Conflict("The new parent already has an organization with this name.", code="name_taken")
    if new_parent is not None:
        _check_guards(User.objects.filter(memberships__organization__in=nodes).distinct(), new_parent)
    old_prefix, old_parent = org.path, org.parent_id
    new_prefix = f"{new_parent.path if new_parent else '/'}{org.id}/"
    for node in nodes:
        node.path = new_prefix + node.path[len(old_prefix):]
    org.parent = new_parent
    Organization.objects.bulk_update(nodes, ["path"])
    Organization.objects.filter(pk=org.pk).update(parent=new_parent)
    _announce(org.id, org.topic, "moved", **_org_payload(org), old_path=old_prefix,
              before={"parent": _plain(old_parent), "path": old_prefix},
              after={"parent": _plain(org.parent_id), "path": org.path})
    return org


@transaction.atomic
def organization_set_active(*, actor: Any, organization: Organization, active: bool) -> Organization:
    """Disabling an organization disables its whole subtree: memberships and grants in it stop
    giving access. An organization can be enabled again only under an enabled parent."""
    require(actor, "organizations:organization:write", organization)
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    if active and org.parent_id and not Organization.objects.get(pk=org.parent_id).is_active:
        raise Refused("Enable the parent organization first.", code="parent_disabled")
    if active:
        Organization.objects.filter(pk=org.pk).update(is_active=True)
    else:
        Organization.objects.filter(path__startswith=org.path).update(is_active=False)
    org.refresh_from_db()
    _announce(org.id, org.topic, "enabled" if active else "disabled", **_org_payload(org))
    return org


@transaction.atomic
def organization_delete(*, actor: Any, organization: Organization) -> None:
    """Refused while anything depends on the organization: sub-organizations, members, user
    groups, projects, grants or data of other apps. Nothing is ever deleted along with it."""
    require(actor, "organizations:organization:write", organization)
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    blockers = {
        "sub-organizations": org.children.count(),
        "members": org.memberships.count(),
        "user groups": UserGroup.objects.filter(organization=org).count(),
        "projects": Project.objects.filter(organization=org).count(),
    }
    blockers = {k: v for k, v in blockers.items() if v}
    if blockers:
        listed = ", ".join(f"{n} {k}" for k, v in blockers.items() for n in [v])
        raise Refused(f"The organization still has {listed}; move or remove them first.",
                      code="organization_not_empty", detail={"blockers": blockers})
    payload = _org_payload(org)
    _delete_or_refuse(org, "Other data still belongs to this organization ({}).", code="organization_not_empty")
    _announce(payload["id"], f"organization:{payload['id']}", "deleted", **payload)


# -- users and memberships ---------------------------------------------------------------------

def _user_payload(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name,
            "is_active": user.is_active}


@transaction.atomic
def user_create(*, actor: Any, username: str, password: str | None, organization: Organization | None,
                email: str = "", display_name: str = "", is_superuser: bool = False) -> User:
    """A new person joins one organization the actor manages; only the system or a superuser
    creates users outside any organization, or other superusers. The password must satisfy the
    password policy of the organization the person is created in."""
    if not isinstance(username, str) or not username.strip():
        raise InvalidInput("username is required.", detail={"username": ["This field is required."]})
    username = username.strip()
    if organization is None:
        require(actor, "organizations:user:write", None)
    else:
        require(actor, "organizations:user:write", organization)
        if not organization.is_active:
            raise Refused("The organization is disabled.", code="organization_disabled")
    if is_superuser and actor is not None and not actor.is_superuser:
        raise Forbidden("Only a platform administrator can create another one.")
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("This username is already taken.", code="username_taken",
                       detail={"username": ["Already taken."]})
    user = User(username=username, email=email or "", display_name=display_name or "", is_superuser=is_superuser,
                is_staff=is_superuser)
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        raise InvalidInput("The user is not valid; see detail.", detail=exc.message_dict) from None
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict("This username is already taken.", code="username_taken") from None
    if organization is not None:
        Membership.objects.create(user=user, organization=organization)
    if password:
        # Validated once the person belongs to the organization, so its password policy applies;
        # a refusal rolls the new person back.
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise InvalidInput("The password is not accepted; see detail.", detail={"password": exc.messages}) \
                from None
        user.set_password(password)
        user.save(update_fields=["password"])
    _announce(organization.id if organization else None, user.topic, "created", **_user_payload(user),
              organization=organization.id if organization else None)
    return user


def require_may_change_user(actor: Any, action: str, user: User) -> None:
    """The one rule for changing a person: the permission in every organization they belong to
    (an organization administrator cannot change someone who also works elsewhere), platform-wide
    for someone who belongs to none, and a platform administrator is changed by another only."""
    if actor is None:
        return
    orgs = list(Organization.objects.filter(memberships__user=user))
    if not orgs:
        require(actor, action, None)
    for org in orgs:
        require(actor, action, org)
    if user.is_superuser and not actor.is_superuser:
        raise Forbidden("Only a platform administrator can change a platform administrator.",
                        code="platform_administrator", detail={"permission": action})


def require_may_change_credentials(actor: Any, action: str, user: User) -> None:
    """The one rule for changing how a person signs in (their password, MFA, MFA exemption,
    sessions and AccessKey pairs). The person may change their own. Anyone else needs ``action`` in
    every organization the person belongs to; and the credentials of a platform administrator or
    of anyone holding a separated duty are changed by a platform administrator only, never by
    another duty holder (who could then sign in as them and hold both duties) nor anyone else."""
    if actor is None or actor.pk == user.pk:
        return
    require_may_change_user(actor, action, user)
    if actor.is_superuser:
        return
    duties = user_duties(user)
    if duties:
        held = " and ".join(d.replace("_", " ") for d in sorted(duties))
        raise Forbidden(f"{user.username} holds a separated duty ({held}): only they or a platform administrator "
                        "can change how they sign in.", code="separation_of_duties",
                        detail={"user": str(user.pk), "duties": sorted(duties), "permission": action})


def may_change_user(actor: Any, user: User, action: str = "organizations:user:write") -> bool:
    """Whether ``require_may_change_user`` lets ``actor`` change ``user`` (for pages' buttons)."""
    return _allowed(require_may_change_user, actor, action, user)


def may_change_credentials(actor: Any, user: User, action: str = "organizations:user:write") -> bool:
    """Whether ``require_may_change_credentials`` lets ``actor`` change how ``user`` signs in."""
    return _allowed(require_may_change_credentials, actor, action, user)


def _allowed(rule: Callable[[Any, str, User], None], actor: Any, action: str, user: User) -> bool:
    try:
        rule(actor, action, user)
    except Forbidden:
        return False
    return True


@dataclass(frozen=True)
class SignInEnded:
    """What a password reset or a deactivation closed for the person."""

    user: User
    sessions: int = 0
    access_keys: int = 0


@transaction.atomic
def user_update(*, actor: Any, user: User, email: str | None = None, display_name: str | None = None,
                first_name: str | None = None, last_name: str | None = None) -> User:
    require_may_change_user(actor, "organizations:user:write", user)
    user = User.objects.select_for_update().get(pk=user.pk)
    before = _fields(user, USER_FIELDS)
    for field, value in (("email", email), ("display_name", display_name), ("first_name", first_name),
                         ("last_name", last_name)):
        if value is not None:
            setattr(user, field, value)
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        raise InvalidInput("The user is not valid; see detail.", detail=exc.message_dict) from None
    user.save()
    _announce(None, user.topic, "updated", **_user_payload(user), **_changed(before, _fields(user, USER_FIELDS)))
    return user


@transaction.atomic
def user_set_active(*, actor: Any, user: User, active: bool) -> SignInEnded:
    """A disabled person cannot sign in and holds no permission; their grants are kept and their
    AccessKey pairs are disabled (enabling the person again leaves the pairs to them)."""
    require_may_change_user(actor, "organizations:user:write", user)
    if not active and actor is not None and actor.pk == user.pk:
        raise Refused("You cannot disable yourself.", code="cannot_disable_self")
    user = User.objects.select_for_update().get(pk=user.pk)
    if not active and user.is_superuser and not User.objects.filter(
            is_superuser=True, is_active=True).exclude(pk=user.pk).exists():
        raise Refused("The last active platform administrator cannot be disabled.", code="last_administrator")
    was_active = user.is_active
    user.is_active = active
    user.save(update_fields=["is_active"])
    _announce(None, user.topic, "enabled" if active else "disabled", **_user_payload(user),
              before={"is_active": was_active}, after={"is_active": active})
    keys = 0 if active or _signin_hooks is None else _signin_hooks.disable_access_keys(user)
    return SignInEnded(user, access_keys=keys)


@transaction.atomic
def user_delete(*, actor: Any, user: User) -> None:
    """Only a disabled person can be deleted. Their memberships, user group and project
    memberships and the grants made to them go with them; operations they started keep
    existing without an actor."""
    require_may_change_user(actor, "organizations:user:write", user)
    if actor is not None and actor.pk == user.pk:
        raise Refused("You cannot delete yourself.", code="cannot_delete_self")
    if user.is_active:
        raise Refused("Disable the user before deleting them.", code="user_active")
    payload = _user_payload(user)
    _delete_or_refuse(user, "Other data still refers to this user ({}).", code="user_in_use")
    _announce(None, f"user:{payload['id']}", "deleted", **payload)


def _validated_password(password: Any, user: User, field: str) -> str:
    if not isinstance(password, str) or not password:
        raise InvalidInput("A new password is required.", detail={field: ["This field is required."]})
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput("The password is not accepted; see detail.", detail={field: exc.messages}) from None
    return password


def _sign_out_sessions(user: User, keep_session_key: str | None) -> int:
    """A new password already ends every session signed in with the old one (Django keeps a hash
    of the password in each session); the security app's list of sessions is closed as well."""
    return _signin_hooks.end_sessions(user, keep_session_key) if _signin_hooks else 0


@transaction.atomic
def user_set_password(*, actor: Any, user: User, password: str) -> SignInEnded:
    """An administrator resets someone else's password (``require_may_change_credentials``:
    never the password of a platform administrator or a duty holder, but by a platform
    administrator), their organizations' password policy applies, every session they have is
    signed out and their AccessKey pairs are disabled: whoever had the old password may have made
    keys. People change their own password with ``user_password_change``."""
    if actor is not None and actor.pk == user.pk:
        raise Refused("Change your own password with your current password.", code="use_password_change")
    require_may_change_credentials(actor, "organizations:user:write", user)
    user = User.objects.select_for_update().get(pk=user.pk)
    user.set_password(_validated_password(password, user, "password"))
    user.save(update_fields=["password"])
    sessions = _sign_out_sessions(user, None)
    keys = _signin_hooks.disable_access_keys(user) if _signin_hooks else 0
    _announce(None, user.topic, "password_reset", id=user.id, username=user.username, sessions_signed_out=sessions,
              access_keys_disabled=keys)
    return SignInEnded(user, sessions=sessions, access_keys=keys)


def user_password_change(*, user: User, current_password: str, new_password: str,
                         keep_session_key: str | None = None, ip: str | None = None) -> User:
    """Self-service: the current password is required, the new one follows the organization's
    policy, and every other session of the person is signed out (``keep_session_key`` stays).
    A wrong current password counts toward the sign-in lockout of the account (and of the client
    address ``ip``), and while either is locked no password is checked at all, so a borrowed
    session cannot guess the password any faster than the sign-in page."""
    wrong = InvalidInput("The current password is not correct.", code="wrong_password",
                         detail={"current_password": ["Not correct."]})
    if _signin_hooks is not None:
        _signin_hooks.refuse_when_locked(user, ip)
    if not isinstance(current_password, str) or not User.objects.get(pk=user.pk).check_password(current_password):
        # Counted outside the change's transaction: the refusal must not roll the count back.
        if _signin_hooks is not None:
            _signin_hooks.count_wrong_password(user, ip)
        raise wrong
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.check_password(current_password):  # changed meanwhile by a concurrent request
            raise wrong
        user.set_password(_validated_password(new_password, user, "new_password"))
        user.save(update_fields=["password"])
        _sign_out_sessions(user, keep_session_key)
        _announce(None, user.topic, "password_changed", id=user.id, username=user.username)
    return user


@transaction.atomic
def membership_add(*, actor: Any, user: User, organization: Organization) -> Membership:
    require(actor, "organizations:user:write", organization)
    if not organization.is_active:
        raise Refused("The organization is disabled.", code="organization_disabled")
    existing = Membership.objects.filter(user=user, organization=organization).first()
    if existing:
        return existing
    _check_guards([user], organization)
    membership = Membership.objects.create(user=user, organization=organization)
    _announce(organization.id, organization.topic, "member_added", user=user.id, username=user.username)
    return membership


def _belongs_to(user: User, org: Organization) -> bool:
    """Is ``user`` a member of ``org`` or of one of its descendants?"""
    return Membership.objects.filter(user=user, organization__path__startswith=org.path).exists()


@transaction.atomic
def membership_remove(*, actor: Any, user: User, organization: Organization) -> None:
    """Leaving an organization also leaves its user groups and projects (they belong to it)."""
    require(actor, "organizations:user:write", organization)
    deleted, _ = Membership.objects.filter(user=user, organization=organization).delete()
    if not deleted:
        raise Refused("The user is not a member of this organization.", code="not_a_member")
    for group in UserGroup.objects.filter(members=user, organization__path__startswith=organization.path):
        if not _belongs_to(user, group.organization):
            group.members.remove(user)
    for project in Project.objects.filter(members=user, organization__path__startswith=organization.path):
        if not _belongs_to(user, project.organization):
            project.members.remove(user)
    _announce(organization.id, organization.topic, "member_removed", user=user.id, username=user.username)


# -- user groups -------------------------------------------------------------------------------

@transaction.atomic
def user_group_create(*, actor: Any, organization: Organization, name: str, description: str = "") -> UserGroup:
    name = _clean_name(name)
    require(actor, "organizations:group:write", organization)
    if UserGroup.objects.filter(organization=organization, name=name).exists():
        raise Conflict("A user group with this name already exists in the organization.", code="name_taken",
                       detail={"name": ["Already used in this organization."]})
    group = UserGroup.objects.create(organization=organization, name=name, description=description or "")
    _announce(organization.id, group.topic, "created", id=group.id, name=group.name)
    return group


@transaction.atomic
def user_group_update(*, actor: Any, group: UserGroup, name: str | None = None,
                      description: str | None = None) -> UserGroup:
    require(actor, "organizations:group:write", group)
    group = UserGroup.objects.select_for_update().get(pk=group.pk)
    before = _fields(group, NAMED_FIELDS)
    if name is not None:
        name = _clean_name(name)
        if UserGroup.objects.filter(organization_id=group.organization_id, name=name).exclude(pk=group.pk).exists():
            raise Conflict("A user group with this name already exists in the organization.", code="name_taken")
        group.name = name
    if description is not None:
        group.description = description
    group.save()
    _announce(group.organization_id, group.topic, "updated", id=group.id, name=group.name,
              **_changed(before, _fields(group, NAMED_FIELDS)))
    return group


@transaction.atomic
def user_group_delete(*, actor: Any, group: UserGroup) -> None:
    """Members simply leave the group; a group that still holds grants or policies is kept."""
    require(actor, "organizations:group:write", group)
    payload = {"id": group.id, "name": group.name}
    org_id = group.organization_id
    _delete_or_refuse(group, "The user group is still used ({}); remove those first.", code="group_in_use")
    _announce(org_id, f"user_group:{payload['id']}", "deleted", **payload)


@transaction.atomic
def user_group_add_member(*, actor: Any, group: UserGroup, user: User) -> UserGroup:
    require(actor, "organizations:group:write", group)
    if not _belongs_to(user, group.organization):
        raise Refused("The user is not a member of the group's organization.", code="not_a_member")
    _check_guards([user], group)
    group.members.add(user)
    _announce(group.organization_id, group.topic, "member_added", user=user.id, username=user.username)
    return group


@transaction.atomic
def user_group_remove_member(*, actor: Any, group: UserGroup, user: User) -> UserGroup:
    require(actor, "organizations:group:write", group)
    group.members.remove(user)
    _announce(group.organization_id, group.topic, "member_removed", user=user.id, username=user.username)
    return group


# -- projects ----------------------------------------------------------------------------------

@transaction.atomic
def project_create(*, actor: Any, organization: Organization, name: str, description: str = "") -> Project:
    name = _clean_name(name)
    require(actor, "organizations:project:write", organization)
    if not organization.is_active:
        raise Refused("The organization is disabled.", code="organization_disabled")
    if Project.objects.filter(organization=organization, name=name).exists():
        raise Conflict("A project with this name already exists in the organization.", code="name_taken",
                       detail={"name": ["Already used in this organization."]})
    project = Project.objects.create(organization=organization, name=name, description=description or "")
    _announce(organization.id, project.topic, "created", id=project.id, name=project.name)
    return project


@transaction.atomic
def project_update(*, actor: Any, project: Project, name: str | None = None, description: str | None = None,
                   is_active: bool | None = None) -> Project:
    """A disabled project keeps its members and grants, but its grants stop giving access."""
    require(actor, "organizations:project:write", project)
    project = Project.objects.select_for_update().get(pk=project.pk)
    before = _fields(project, PROJECT_FIELDS)
    if name is not None:
        name = _clean_name(name)
        if Project.objects.filter(organization_id=project.organization_id, name=name).exclude(pk=project.pk).exists():
            raise Conflict("A project with this name already exists in the organization.", code="name_taken")
        project.name = name
    if description is not None:
        project.description = description
    if is_active is not None:
        project.is_active = bool(is_active)
    project.save()
    _announce(project.organization_id, project.topic, "updated", id=project.id, name=project.name,
              is_active=project.is_active, **_changed(before, _fields(project, PROJECT_FIELDS)))
    return project


@transaction.atomic
def project_delete(*, actor: Any, project: Project) -> None:
    """Members and user groups simply leave; a project that still holds resources or grants is
    kept, with the list of what holds it."""
    require(actor, "organizations:project:write", project)
    payload = {"id": project.id, "name": project.name}
    org_id = project.organization_id
    _delete_or_refuse(project, "The project still holds {}; remove those first.", code="project_not_empty")
    _announce(org_id, f"project:{payload['id']}", "deleted", **payload)


@transaction.atomic
def project_add_member(*, actor: Any, project: Project, user: User) -> Project:
    require(actor, "organizations:project:write", project)
    if not _belongs_to(user, project.organization):
        raise Refused("The user is not a member of the project's organization.", code="not_a_member")
    _check_guards([user], project)
    project.members.add(user)
    _announce(project.organization_id, project.topic, "member_added", user=user.id, username=user.username)
    return project


@transaction.atomic
def project_remove_member(*, actor: Any, project: Project, user: User) -> Project:
    require(actor, "organizations:project:write", project)
    project.members.remove(user)
    _announce(project.organization_id, project.topic, "member_removed", user=user.id, username=user.username)
    return project


@transaction.atomic
def project_add_group(*, actor: Any, project: Project, group: UserGroup) -> Project:
    require(actor, "organizations:project:write", project)
    if not group.organization.path.startswith(project.organization.path):
        raise Refused("The user group belongs to another organization.", code="group_outside_organization")
    _check_guards(group.members.all(), project)
    project.groups.add(group)
    _announce(project.organization_id, project.topic, "group_added", group=group.id, name=group.name)
    return project


@transaction.atomic
def project_remove_group(*, actor: Any, project: Project, group: UserGroup) -> Project:
    require(actor, "organizations:project:write", project)
    project.groups.remove(group)
    _announce(project.organization_id, project.topic, "group_removed", group=group.id, name=group.name)
    return project
