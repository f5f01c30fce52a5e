"""Billing's API: each action parses, looks up through a selector, calls one service and renders."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.billing import selectors, services
from apps.billing.api import serializers as s
from apps.billing.filters import (
    BillFilter,
    BudgetCrossingFilter,
    BudgetFilter,
    DiscountFilter,
    PriceBookFilter,
    PriceRuleFilter,
    UsageIntervalFilter,
)
from apps.billing.models import Bill, Budget, BudgetCrossing, Discount, PriceBook, PriceRule, UsageInterval
from apps.clouds.models import CloudPlatform
from apps.core.api.base import TenantViewSetMixin, parsed, visible
from apps.core.api.schema import errors, results_of
from apps.core.errors import InvalidInput, NotFound
from apps.core.pages import XLSX_TYPE, csv_response, xlsx_response
from apps.organizations.models import Organization, Project

BILL_ID = r"bill-[0-9a-f]{20}"
ORG_READ = "organizations:organization:read"


def _org(user, pk, field: str = "organization") -> Organization:
    return visible(Organization.objects.all(), user, ORG_READ, pk, field)


def _rule_refs(request: Request, data: dict) -> dict:
    """Platform and organization ids of a rule, looked up among what the caller may see."""
    if data.get("platform"):
        data["platform"] = visible(CloudPlatform.objects.all(), request.user, "clouds:platform:read",
                                   data["platform"], "platform")
    if data.get("organization"):
        data["organization"] = _org(request.user, data["organization"])
    return s.tiers_in(data)


class BillViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Monthly bills per organization: rate (or re-rate) an open month, finalize it, then correct it
    only by adjustments. Lines say what priced them; ``explain`` shows the usage behind a line."""

    queryset = Bill.objects.select_related("organization")
    serializer_class = s.BillSerializer
    filterset_class = BillFilter
    lookup_value_regex = BILL_ID
    selector = staticmethod(selectors.bill_list)

    def get_serializer_class(self):
        return s.BillDetailSerializer if self.action == "retrieve" else s.BillSerializer

    def get_queryset(self):
        qs = super().get_queryset().select_related("organization")
        return qs.prefetch_related("lines", "adjustments") if self.action == "retrieve" else qs

    @extend_schema(request=s.BillRateSerializer, responses={200: s.BillDetailSerializer})
    @action(detail=False, methods=["post"])
    def rate(self, request: Request) -> Response:
        data = parsed(s.BillRateSerializer, request.data)
        bill = services.bill_rate(actor=request.user, organization=_org(request.user, data["organization"]),
                                  period=data["period"])
        return Response(s.BillDetailSerializer(selectors.bill_get(actor=request.user, bill_id=bill.pk)).data)

    @extend_schema(request=None, responses={200: s.BillDetailSerializer})
    @action(detail=True, methods=["post"])
    def finalize(self, request: Request, pk=None) -> Response:
        bill = services.bill_finalize(actor=request.user, bill=self.get_object())
        return Response(s.BillDetailSerializer(selectors.bill_get(actor=request.user, bill_id=bill.pk)).data)

    @extend_schema(request=s.AdjustmentCreateSerializer, responses={201: s.BillAdjustmentSerializer})
    @action(detail=True, methods=["post"])
    def adjustments(self, request: Request, pk=None) -> Response:
        bill = self.get_object()
        data = parsed(s.AdjustmentCreateSerializer, request.data)
        row = services.bill_adjust(actor=request.user, bill=bill, amount=data["amount"], reason=data["reason"])
        return Response(s.BillAdjustmentSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: s.ExplainSerializer},
                   parameters=[OpenApiParameter("line", OpenApiTypes.STR, OpenApiParameter.PATH)])
    @action(detail=True, methods=["get"], url_path=r"lines/(?P<line>bln-[0-9a-f]{20})/explain")
    def explain(self, request: Request, pk=None, line=None) -> Response:
        bill = self.get_object()
        row = selectors.line_get(actor=request.user, line_id=line)
        if row.bill_id != bill.pk:
            raise NotFound("Bill line not found.")
        return Response(s.ExplainSerializer(selectors.line_explain(line=row)).data)

    @extend_schema(responses={200: s.RollupSerializer, **errors(404)}, parameters=[
        OpenApiParameter("organization", OpenApiTypes.UUID, required=True),
        OpenApiParameter("period", OpenApiTypes.STR, required=True, description="YYYY-MM")])
    @action(detail=False, methods=["get"])
    def rollup(self, request: Request) -> Response:
        org = visible(Organization.objects.all(), request.user, selectors.BILL_READ,
                      request.query_params.get("organization") or None, "organization")
        period = services.period_of(request.query_params.get("period", ""))
        return Response(s.RollupSerializer(selectors.bill_rollup(actor=request.user, organization=org,
                                                                 period=period)).data)


class PriceBookViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Price books: one currency each; rating uses the active one."""

    queryset = PriceBook.objects.all()
    serializer_class = s.PriceBookSerializer
    filterset_class = PriceBookFilter
    lookup_value_regex = r"pbk-[0-9a-f]{20}"
    selector = staticmethod(selectors.price_book_list)

    @extend_schema(request=s.PriceBookCreateSerializer, responses={201: s.PriceBookSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.PriceBookCreateSerializer, request.data)
        book = services.price_book_create(actor=request.user, organization=_org(request.user, data["organization"]),
                                          name=data["name"], currency=data["currency"], minor_unit=data["minor_unit"],
                                          is_active=data["is_active"])
        return Response(s.PriceBookSerializer(book).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.PriceBookSerializer})
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk=None) -> Response:
        book = services.price_book_activate(actor=request.user, book=self.get_object())
        return Response(s.PriceBookSerializer(book).data)


class PriceRuleViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Rules of price books: per resource type and dimension, optionally per platform, region,
    organization and SKU; tiers, a fixed part, validity, and whether stopped instances are billed."""

    queryset = PriceRule.objects.all()
    serializer_class = s.PriceRuleSerializer
    filterset_class = PriceRuleFilter
    lookup_value_regex = r"prc-[0-9a-f]{20}"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    selector = staticmethod(selectors.price_rule_list)

    @extend_schema(request=s.PriceRuleWriteSerializer, responses={201: s.PriceRuleSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.PriceRuleWriteSerializer, request.data)
        if not data.get("price_book"):
            raise InvalidInput("price_book is required.", detail={"price_book": ["This field is required."]})
        book = visible(PriceBook.objects.all(), request.user, selectors.PRICEBOOK_READ, data.pop("price_book"),
                       "price_book")
        rule = services.price_rule_create(actor=request.user, book=book, data=_rule_refs(request, data))
        return Response(s.PriceRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PriceRuleWriteSerializer, responses={200: s.PriceRuleSerializer})
    def partial_update(self, request: Request, pk=None) -> Response:
        rule = self.get_object()
        data = parsed(s.PriceRuleWriteSerializer, request.data, partial=True)
        data.pop("price_book", None)
        rule = services.price_rule_update(actor=request.user, rule=rule, data=_rule_refs(request, data))
        return Response(s.PriceRuleSerializer(rule).data)

    def destroy(self, request: Request, pk=None) -> Response:
        services.price_rule_delete(actor=request.user, rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class DiscountViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Organization discounts: a percentage off whole months of bills."""

    queryset = Discount.objects.all()
    serializer_class = s.DiscountSerializer
    filterset_class = DiscountFilter
    lookup_value_regex = r"dsc-[0-9a-f]{20}"
    selector = staticmethod(selectors.discount_list)

    @extend_schema(request=s.DiscountCreateSerializer, responses={201: s.DiscountSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.DiscountCreateSerializer, request.data)
        row = services.discount_create(actor=request.user, organization=_org(request.user, data["organization"]),
                                       percent=data["percent"], valid_from=data.get("valid_from"),
                                       valid_to=data.get("valid_to"), description=data["description"])
        return Response(s.DiscountSerializer(row).data, status=status.HTTP_201_CREATED)


class BudgetViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                    viewsets.GenericViewSet):
    """Monthly budgets of organizations and projects; each threshold crossing (actual or forecast)
    is announced once a month on the ``billing:<organization>`` topic."""

    queryset = Budget.objects.all()
    serializer_class = s.BudgetSerializer
    filterset_class = BudgetFilter
    lookup_value_regex = r"bdg-[0-9a-f]{20}"
    selector = staticmethod(selectors.budget_list)

    @extend_schema(request=s.BudgetCreateSerializer, responses={201: s.BudgetSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.BudgetCreateSerializer, request.data)
        org = _org(request.user, data["organization"])
        project = None
        if data.get("project"):
            project = visible(Project.objects.all(), request.user, "organizations:project:read", data["project"],
                              "project")
        budget = services.budget_create(actor=request.user, organization=org, project=project, name=data["name"],
                                        amount=data["amount"], thresholds=data.get("thresholds"))
        return Response(s.BudgetSerializer(budget).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk=None) -> Response:
        services.budget_delete(actor=request.user, budget=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class BudgetCrossingViewSet(TenantViewSetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Thresholds that budgets crossed, newest first."""

    queryset = BudgetCrossing.objects.all()
    serializer_class = s.BudgetCrossingSerializer
    filterset_class = BudgetCrossingFilter
    ordering = ("-crossed_at", "-id")
    selector = staticmethod(selectors.crossing_list)


class UsageIntervalViewSet(TenantViewSetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Metered usage: who owned each resource in which shape, from when to when."""

    queryset = UsageInterval.objects.all()
    serializer_class = s.UsageIntervalSerializer
    filterset_class = UsageIntervalFilter
    ordering = ("-start_s", "-id")
    selector = staticmethod(selectors.interval_list)


COST_PARAMETERS = [
    OpenApiParameter("group_by", OpenApiTypes.STR, enum=list(selectors.GROUPS), description="Default: service."),
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (default: this month's first)."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="The day after the last (default: next month's first)."),
    OpenApiParameter("organization", OpenApiTypes.UUID), OpenApiParameter("project", OpenApiTypes.UUID),
    OpenApiParameter("service", OpenApiTypes.STR),
    OpenApiParameter("tag_key", OpenApiTypes.STR, description="With group_by=tag: the tag whose values group the "
                     "spend (resources without it count as \"(untagged)\")."),
]


class CostView(APIView):
    """Spend per service, type, platform, region, organization, project, value of a tag, day or month."""

    @extend_schema(parameters=COST_PARAMETERS, responses={200: results_of(s.CostRowSerializer, name="CostRows")})
    def get(self, request: Request) -> Response:
        rows = selectors.cost_rows(actor=request.user, **selectors.cost_filters(request.query_params))
        return Response({"results": s.CostRowSerializer(rows, many=True).data})


class CostSummaryView(APIView):
    """Month to date, the month's forecast and last month."""

    @extend_schema(parameters=[OpenApiParameter("organization", OpenApiTypes.UUID)],
                   responses={200: s.CostSummarySerializer})
    def get(self, request: Request) -> Response:
        org = request.query_params.get("organization") or None
        if org is not None:
            org = _org(request.user, org).pk
        return Response(s.CostSummarySerializer(selectors.cost_summary(actor=request.user, organization=org)).data)


EXPORT_FILES = ("csv", "xlsx")
class CostExportView(APIView):
    """The same rows as ``costs/`` as a CSV (default) or Excel (``file=xlsx``) download."""

    @extend_schema(parameters=[*COST_PARAMETERS, OpenApiParameter(
        "file", OpenApiTypes.STR, enum=list(EXPORT_FILES), description="Default: csv.")], responses={
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV: group, amount"),
        (200, XLSX_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="Excel workbook: group, amount")})
    def get(self, request: Request):
        kind = request.query_params.get("file") or "csv"
        if kind not in EXPORT_FILES:
            raise InvalidInput("Unknown export file type.", detail={"file": [f"one of {', '.join(EXPORT_FILES)}"]})
        filters = selectors.cost_filters(request.query_params)
        rows = selectors.cost_rows(actor=request.user, **filters)
        # The file name keeps to the grouping; a tag's key (any text) goes only into the header row.
        name = f"costs-{filters['group_by']}-{filters['start']:%Y%m%d}-{filters['end']:%Y%m%d}.{kind}"
        header = f"tag:{filters['tag_key']}" if filters["group_by"] == "tag" else filters["group_by"]
        table = [[header, "amount"], *[[r["key"], r["amount"]] for r in rows]]
        if kind == "xlsx":
            return xlsx_response(table, name, sheet=f"Costs by {filters['group_by']}")
        return csv_response(table, name)


class ProfileView(APIView):
    """An organization's billing time zone (its months are counted there)."""

    @extend_schema(request=s.ProfileSerializer, responses={200: s.ProfileSerializer})
    def post(self, request: Request) -> Response:
        data = parsed(s.ProfileSerializer, request.data)
        profile = services.profile_set(actor=request.user, organization=_org(request.user, data["organization"]),
                                       time_zone=data["time_zone"])
        return Response({"organization": profile.organization_id, "time_zone": profile.time_zone})

