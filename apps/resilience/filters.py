"""List filters of the resilience API. Related objects are matched by id, as the other apps' filters do."""

import django_filters

from apps.resilience.models import BackupJob, PlanRun, PlanStep, ProtectedMember


class MemberFilter(django_filters.FilterSet):
    group = django_filters.CharFilter(field_name="group_id")

    class Meta:
        model = ProtectedMember
        fields = ["group", "state", "channel"]


class RunFilter(django_filters.FilterSet):
    group = django_filters.CharFilter(field_name="group_id")

    class Meta:
        model = PlanRun
        fields = ["group", "kind", "status"]


class StepFilter(django_filters.FilterSet):
    run = django_filters.CharFilter(field_name="run_id")

    class Meta:
        model = PlanStep
        fields = ["run", "status"]


class BackupJobFilter(django_filters.FilterSet):
    plan = django_filters.CharFilter(field_name="plan_id")

    class Meta:
        model = BackupJob
        fields = ["plan", "kind", "status"]
