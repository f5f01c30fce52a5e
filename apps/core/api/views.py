from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core import selectors, services
from apps.core.api.base import TenantReadOnlyViewSet
from apps.core.api.serializers import DiagnosticRequestSerializer, OperationSerializer
from apps.core.filters import OperationFilter
from apps.core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from apps.core.models import Operation


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
        org = selectors.operation_organization(
            actor=request.user, organization_id=params.validated_data.get("organization"))
        with transaction.atomic():
            op = services.diagnostic_start(
                organization=org, actor=request.user, steps=params.validated_data["steps"],
                interval=params.validated_data["interval"],
            )
        return Response(OperationSerializer(op).data, status=status.HTTP_202_ACCEPTED)
