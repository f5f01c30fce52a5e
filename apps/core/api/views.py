from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core import services
from apps.core.api.base import TenantReadOnlyViewSet
from apps.core.api.serializers import DiagnosticRequestSerializer, OperationSerializer
from apps.core.errors import Forbidden, InvalidInput
from apps.core.filters import OperationFilter
from apps.core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from apps.core.models import Operation
from apps.core.scoping import authorize


class OperationViewSet(TenantReadOnlyViewSet):
    """Long-running jobs. Follow one live on the websocket topic ``operation:<id>``."""

    queryset = Operation.objects.select_related("actor")
    serializer_class = OperationSerializer
    permission_prefix = "core:operation"
    filterset_class = OperationFilter
    ordering_fields = ["created_at"]
    ordering = ("-created_at", "-id")
    lookup_value_regex = r"op-[0-9a-f]{20}"

    @extend_schema(request=None, responses=OperationSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        op = self.get_object()
        self.require("write", op)
        op = services.operation_cancel(operation_id=op.id, actor=request.user)
        return Response(OperationSerializer(op).data)

    @extend_schema(request=DiagnosticRequestSerializer, responses={202: OperationSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=False, methods=["post"])
    @idempotent
    def diagnostics(self, request: Request) -> Response:
        """Start the built-in diagnostic: a few timed steps run by a worker, streamed live."""
        params = DiagnosticRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        org = _organization_for(request, params.validated_data.get("organization"))
        with transaction.atomic():
            op = services.diagnostic_start(
                organization=org, actor=request.user, steps=params.validated_data["steps"],
                interval=params.validated_data["interval"],
            )
        return Response(OperationSerializer(op).data, status=status.HTTP_202_ACCEPTED)


def _organization_for(request: Request, org_id):
    """The organization an operation is started in: the one asked for, or the user's first.

    Membership is inherited by descendant organizations, as everywhere else."""
    from apps.organizations.models import Organization
    from apps.organizations.selectors import organization_ids_of_user

    orgs = Organization.objects.all()
    if not request.user.is_superuser:
        orgs = orgs.filter(pk__in=organization_ids_of_user(request.user))
    org = orgs.filter(pk=org_id).first() if org_id else orgs.order_by("path").first()
    if org is None:
        raise InvalidInput("Choose an organization you belong to.", detail={"organization": ["not found"]})
    if not authorize(request.user, "core:operation:write", Operation(organization=org)):
        raise Forbidden()
    return org
