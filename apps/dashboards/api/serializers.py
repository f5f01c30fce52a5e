from rest_framework import serializers

from apps.dashboards.models import Dashboard, DashboardVersion, DataSource


class DashboardSerializer(serializers.ModelSerializer):
    shared_roles = serializers.SlugRelatedField(source="shared_with_roles", slug_field="key", many=True,
                                                read_only=True, help_text="Keys of the roles it is shared with.")

    class Meta:
        model = Dashboard
        fields = ["uid", "organization", "title", "version", "is_template", "document", "shared_roles",
                  "created_at", "updated_at"]
        read_only_fields = fields


class DashboardCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField(required=False, allow_null=True, default=None,
                                         help_text="Owner; the first organization where you may write by default.")
    document = serializers.JSONField(required=False, default=None, help_text="A dashboard document.")
    template = serializers.CharField(required=False, max_length=64, default="", allow_blank=True,
                                     help_text="Copy a template (predefined name, or uid of a template dashboard).")
    title = serializers.CharField(required=False, max_length=128, default="", allow_blank=True)
    is_template = serializers.BooleanField(required=False, default=False)


class DashboardSaveSerializer(serializers.Serializer):
    document = serializers.JSONField()
    message = serializers.CharField(required=False, max_length=200, allow_blank=True, default="")
    base_version = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                            help_text="The version you edited: a newer save by someone else is a 409.")


class DashboardImportSerializer(serializers.Serializer):
    organization = serializers.UUIDField(required=False, allow_null=True, default=None)
    document = serializers.JSONField()
    overwrite = serializers.BooleanField(required=False, default=False,
                                         help_text="Save as a new version of the dashboard with the same uid.")


class DashboardRestoreSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class DashboardShareSerializer(serializers.Serializer):
    users = serializers.ListField(child=serializers.UUIDField(), max_length=200, required=False, default=None,
                                  help_text="Exactly these people (left as they are when omitted).")
    roles = serializers.ListField(child=serializers.CharField(max_length=64), max_length=50, required=False,
                                  default=None, help_text="Exactly these roles, by key (kept when omitted).")

    def validate(self, attrs):
        if attrs.get("users") is None and attrs.get("roles") is None:
            raise serializers.ValidationError({"users": ["Give users, roles or both."]})
        return attrs


class DashboardVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = DashboardVersion
        fields = ["version", "title", "message", "created_by", "created_at"]
        read_only_fields = fields


class WidgetDataSerializer(serializers.Serializer):
    shape = serializers.CharField(required=False)
    unit = serializers.CharField(required=False, allow_blank=True)
    result = serializers.JSONField(required=False)
    error = serializers.CharField(required=False)
    updated_at = serializers.DateTimeField()


class WidgetPreviewRequestSerializer(serializers.Serializer):
    widget = serializers.JSONField(help_text="A widget definition as in the dashboard document.")


class DashboardDataSerializer(serializers.Serializer):
    uid = serializers.CharField()
    version = serializers.IntegerField()
    widgets = serializers.DictField(child=WidgetDataSerializer(), help_text="Widget id -> its data.")


class QueryParamSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    label = serializers.CharField(allow_blank=True)
    default = serializers.JSONField(allow_null=True)
    choices = serializers.ListField(child=serializers.JSONField())
    low = serializers.IntegerField()
    high = serializers.IntegerField()


class CatalogQuerySerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    shape = serializers.CharField()
    unit = serializers.CharField(allow_blank=True)
    params = QueryParamSerializer(many=True)
    topics = serializers.ListField(child=serializers.CharField())


class CatalogKindSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    shapes = serializers.ListField(child=serializers.CharField())
    icon = serializers.CharField()


class CatalogTemplateSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    widgets = serializers.IntegerField()


class CatalogSerializer(serializers.Serializer):
    widget_kinds = CatalogKindSerializer(many=True)
    queries = CatalogQuerySerializer(many=True)
    templates = CatalogTemplateSerializer(many=True)


class DataSourceSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="http_json or table")
    columns = serializers.SerializerMethodField()
    row_count = serializers.SerializerMethodField()

    class Meta:
        model = DataSource
        fields = ["id", "organization", "name", "kind", "url", "columns", "row_count", "created_at", "updated_at"]
        read_only_fields = fields

    def get_columns(self, obj: DataSource) -> list[str]:
        return list(obj.table.get("columns", []))

    def get_row_count(self, obj: DataSource) -> int:
        return len(obj.table.get("rows", []))


class DataSourceCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField(required=False, allow_null=True, default=None)
    name = serializers.CharField(max_length=128)
    kind = serializers.RegexField(r"^(http_json|table)$", help_text="http_json or table")
    url = serializers.CharField(required=False, max_length=2000, default="", allow_blank=True,
                                help_text="http_json: the address, read by the server.")
    file_name = serializers.CharField(required=False, max_length=255, default="", allow_blank=True,
                                      help_text="table: the uploaded file's name (.csv or .xlsx).")
    content = serializers.CharField(required=False, allow_null=True, default=None, trim_whitespace=False,
                                    help_text="table: a CSV file's text.")
    content_base64 = serializers.CharField(required=False, allow_null=True, default=None,
                                           help_text="table: an .xlsx (or CSV) file, base64-encoded.")


class DataSourcePreviewSerializer(serializers.Serializer):
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.JSONField(allow_null=True)))
    error = serializers.CharField(required=False)
