"""API of scripts on instances: the saved-script library (``/scripts/``), runs (``/script-runs/``: start
one with 202 and its operation, follow each instance's status, exit code and output, stop it) and the
instances a person may run scripts on (``/script-instances/``, searched by ``?q=``). Views parse and
render; the rules are in ``apps.provisioning.scripts``."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.base import TenantViewSetMixin, visible
from apps.core.api.schema import errors, results_of
from apps.core.api.serializers import OperationSerializer
from apps.core.errors import InvalidInput
from apps.core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from apps.core.pagination import page_response
from apps.organizations.models import Organization, Project
from apps.provisioning import scripts
from apps.provisioning.models import Script, ScriptRun, ScriptRunTarget, ScriptVersion
from apps.resources.models import Resource


class ParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True, required=False, default="")
    default = serializers.CharField(allow_blank=True, required=False, default="")
    required = serializers.BooleanField(required=False, default=False)


class ScriptSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    project = serializers.UUIDField(source="project_id", read_only=True, allow_null=True)
    project_name = serializers.SerializerMethodField()
    parameters = ParameterSerializer(many=True, read_only=True)
    placeholders = serializers.SerializerMethodField()
    updated_by = serializers.SerializerMethodField()

    class Meta:
        model = Script
        fields = ["id", "organization", "project", "project_name", "name", "description", "language", "content",
                  "parameters", "placeholders", "timeout_seconds", "version", "updated_by", "created_at",
                  "updated_at"]
        read_only_fields = fields

    def get_project_name(self, obj: Script) -> str | None:
        return obj.project.name if obj.project_id else None

    def get_placeholders(self, obj: Script) -> list[str]:
        return scripts.placeholders(obj.content)

    def get_updated_by(self, obj: Script) -> str | None:
        return obj.updated_by.username if obj.updated_by_id else None


class ScriptWriteSerializer(serializers.Serializer):
    """The fields of a script; ``organization`` or ``project`` (the project's organization) says whose
    it is when it is created. Each is checked by the service, which names the field it refuses."""

    organization = serializers.UUIDField(required=False, allow_null=True)
    project = serializers.UUIDField(required=False, allow_null=True)
    name = serializers.CharField(required=False, max_length=1000)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    language = serializers.CharField(required=False)
    content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=1_000_000)
    parameters = serializers.JSONField(required=False)
    timeout_seconds = serializers.JSONField(required=False)


class ScriptVersionSerializer(serializers.ModelSerializer):
    changed_by = serializers.SerializerMethodField()
    parameters = ParameterSerializer(many=True, read_only=True)

    class Meta:
        model = ScriptVersion
        fields = ["version", "name", "language", "content", "parameters", "changed_by", "created_at"]
        read_only_fields = fields

    def get_changed_by(self, obj: ScriptVersion) -> str | None:
        return obj.changed_by.username if obj.changed_by_id else None


class ScriptViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The saved scripts you may read; create, change (a new version each time) and delete them with
    ``provisioning:script:write``."""

    serializer_class = ScriptSerializer
    selector = staticmethod(scripts.script_list)
    lookup_value_regex = r"scr-[0-9a-f]{20}"
    ordering = ("name", "id")

    def get_queryset(self):
        qs = super().get_queryset().select_related("project", "updated_by")
        q = self.request.query_params.get("q", "").strip()
        return qs.filter(Q(name__icontains=q) | Q(description__icontains=q)) if q else qs

    @extend_schema(request=ScriptWriteSerializer, responses={201: ScriptSerializer})
    def create(self, request: Request) -> Response:
        data = _body(request)
        project = None
        if data.get("project"):
            project = visible(Project.objects.select_related("organization"), request.user,
                              scripts.WRITE, data["project"], "project")
            organization = project.organization
        else:
            organization = visible(Organization.objects.all(), request.user, scripts.WRITE,
                                   data.get("organization"), "organization")
        fields = {k: data[k] for k in ("name", "description", "language", "content", "parameters",
                                       "timeout_seconds") if k in data}
        if "name" not in fields:
            raise InvalidInput("name is required.", detail={"name": ["This field is required."]})
        if "content" not in fields:
            raise InvalidInput("content is required.", detail={"content": ["This field is required."]})
        row = scripts.script_create(actor=request.user, organization=organization, project=project, **fields)
        return Response(ScriptSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ScriptWriteSerializer, responses={200: ScriptSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        data = _body(request)
        for field in ("organization", "project"):
            if field in data:
                raise InvalidInput(f"{field} cannot be changed.", detail={field: ["A script stays where it is."]})
        row = scripts.script_update(actor=request.user, script=self.get_object(), changes=data)
        return Response(ScriptSerializer(row).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        scripts.script_delete(actor=request.user, script=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: results_of(ScriptVersionSerializer, name="ScriptVersionList")})
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        """Every version of the script, newest first: its text and who made it."""
        rows = scripts.script_versions(script=self.get_object())[:200]
        return Response({"results": ScriptVersionSerializer(rows, many=True).data})


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidInput("The body must be a JSON object.", detail={"body": ["must be an object"]})
    serializer = ScriptWriteSerializer(data=request.data, partial=True)
    serializer.is_valid(raise_exception=True)
    # Only what was sent, as it was sent: the service checks the types itself and names the field.
    return {k: request.data[k] for k in serializer.validated_data if k in request.data}


class TargetSerializer(serializers.ModelSerializer):
    resource = serializers.CharField(source="resource_id", read_only=True, allow_null=True)
    platform = serializers.CharField(source="platform_id", read_only=True)

    class Meta:
        model = ScriptRunTarget
        fields = ["id", "resource", "platform", "region", "instance_id", "name", "status", "exit_code", "output",
                  "output_truncated", "error_code", "error", "started_at", "finished_at"]
        read_only_fields = fields


class ScriptRunSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    project = serializers.UUIDField(source="project_id", read_only=True, allow_null=True)
    script = serializers.CharField(source="script_id", read_only=True, allow_null=True)
    actor = serializers.SerializerMethodField()
    operation = OperationSerializer(read_only=True)
    counts = serializers.SerializerMethodField()

    class Meta:
        model = ScriptRun
        fields = ["id", "organization", "project", "script", "script_version", "name", "language", "parameters",
                  "timeout_seconds", "comment", "actor", "operation", "counts", "created_at"]
        read_only_fields = fields

    def get_actor(self, obj: ScriptRun) -> str | None:
        return obj.actor.username if obj.actor_id else None

    def get_counts(self, obj: ScriptRun) -> dict[str, int]:
        return scripts.run_summary(obj)


class ScriptRunDetailSerializer(ScriptRunSerializer):
    content = serializers.CharField(read_only=True)
    targets = TargetSerializer(many=True, read_only=True)

    class Meta(ScriptRunSerializer.Meta):
        fields = [*ScriptRunSerializer.Meta.fields, "content", "targets"]
        read_only_fields = fields


class ScriptRunCreateSerializer(serializers.Serializer):
    """``script`` (a saved script's id) or ``content`` (typed in, with ``language``); ``parameters``
    fill its ``{{name}}`` placeholders; ``instances`` are inventory ids (1 to 50)."""

    instances = serializers.JSONField()
    script = serializers.CharField(required=False, allow_null=True, max_length=64)
    content = serializers.CharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False,
                                    max_length=1_000_000)
    language = serializers.CharField(required=False, allow_null=True)
    parameters = serializers.JSONField(required=False)
    timeout_seconds = serializers.JSONField(required=False)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class ScriptRunViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Script runs you may read, newest first, each with its operation; one run with every instance's
    status, exit code and output. Start one (202) with ``ecs:instance:command`` on every instance."""

    selector = staticmethod(scripts.script_run_list)
    lookup_value_regex = r"srun-[0-9a-f]{20}"

    def get_queryset(self):
        qs = super().get_queryset().select_related("operation", "operation__actor", "actor")
        if self.action == "retrieve":
            qs = qs.prefetch_related("targets")
        script = self.request.query_params.get("script")
        return qs.filter(script_id=script) if script else qs

    def get_serializer_class(self):
        return ScriptRunDetailSerializer if self.action == "retrieve" else ScriptRunSerializer

    @extend_schema(request=ScriptRunCreateSerializer, responses={202: ScriptRunDetailSerializer, **errors(404)},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @idempotent
    def create(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput("The body must be a JSON object.", detail={"body": ["must be an object"]})
        serializer = ScriptRunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = request.data
        script = None
        if data.get("script"):
            script = scripts.script_list(actor=request.user).filter(pk=str(data["script"])).first()
            if script is None:
                raise InvalidInput("The script was not found.", detail={"script": ["Not found."]})
        run = scripts.script_run_start(
            actor=request.user, instances=data.get("instances"), script=script,
            content=data.get("content"), language=data.get("language"),
            parameters=data.get("parameters"), timeout_seconds=data.get("timeout_seconds"),
            comment=data.get("comment") or "")
        return Response(ScriptRunDetailSerializer(self._fresh(run)).data, status=status.HTTP_202_ACCEPTED)

    def _fresh(self, run: ScriptRun) -> ScriptRun:
        return ScriptRun.objects.select_related("operation", "actor").prefetch_related("targets").get(pk=run.pk)

    @extend_schema(request=None, responses={202: ScriptRunDetailSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        """Ask the cloud to end what still runs; those instances become ``stopped``."""
        run = scripts.script_run_stop(actor=request.user, run=self.get_object())
        return Response(ScriptRunDetailSerializer(self._fresh(run)).data, status=status.HTTP_202_ACCEPTED)


class InstanceChoiceSerializer(serializers.ModelSerializer):
    platform_name = serializers.CharField(source="platform.name", read_only=True)
    project_name = serializers.SerializerMethodField()

    class Meta:
        model = Resource
        fields = ["id", "name", "external_id", "status", "region", "zone", "platform_name", "project_name"]
        read_only_fields = fields

    def get_project_name(self, obj: Resource) -> str | None:
        return obj.project.name if obj.project_id else None


class InstanceChoiceView(APIView):
    """The instances you may run scripts on (``ecs:instance:command``), by name; ``?q=`` searches names,
    cloud ids and private addresses, ``?status=running`` keeps the running ones, ``?id=`` one instance."""

    @extend_schema(parameters=[OpenApiParameter("q", str, required=False),
                               OpenApiParameter("id", str, required=False),
                               OpenApiParameter("status", str, required=False),
                               OpenApiParameter("cursor", str, required=False),
                               OpenApiParameter("page_size", int, required=False)],
                   responses={200: results_of(InstanceChoiceSerializer, name="ScriptInstancePage", cursor=True)})
    def get(self, request: Request) -> Response:
        rows = scripts.instance_choices(actor=request.user)
        q = request.query_params.get("q", "").strip()[:100]
        if q:
            rows = rows.filter(Q(name__icontains=q) | Q(external_id__icontains=q) | Q(spec__private_ip=q))
        one = request.query_params.get("id", "").strip()
        if one:
            rows = rows.filter(pk=one[:64])
        wanted = request.query_params.get("status", "").strip()
        if wanted:
            rows = rows.filter(status=wanted)
        return page_response(rows, request, ("name", "id"), InstanceChoiceSerializer)
