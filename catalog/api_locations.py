"""API for locations and ingestion: register, list, refresh, delete, and post YAML to get per-document results."""

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.ingestion import IngestReport, location_refresh
from catalog.locations import location_delete, location_refresh_later, location_register
from catalog.models import Location, LocationProblem
from catalog.services import CatalogError
from catalog.views_locations import may_manage
from rbac.selectors import restrict


class LocationProblemSerializer(serializers.ModelSerializer):
    class Meta:
        model = LocationProblem
        fields = ["severity", "file", "document", "line", "entity_ref", "message"]


class LocationSerializer(serializers.ModelSerializer):
    problems = LocationProblemSerializer(many=True, read_only=True)
    entity_count = serializers.IntegerField(read_only=True, source="entities.count")

    class Meta:
        model = Location
        fields = [
            "id",
            "type",
            "target",
            "path",
            "branch",
            "status",
            "message",
            "last_refreshed_at",
            "created_at",
            "entity_count",
            "problems",
        ]
        read_only_fields = ["status", "message", "last_refreshed_at", "created_at"]


class LocationCreateSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=[Location.Type.URL, Location.Type.GITHUB_ORG], default=Location.Type.URL)
    target = serializers.CharField(max_length=2000, help_text="Repository URL, or the GitHub organisation's name.")
    path = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    branch = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class DocumentResultSerializer(serializers.Serializer):
    file = serializers.CharField()
    document = serializers.IntegerField(allow_null=True)
    line = serializers.IntegerField(allow_null=True)
    ref = serializers.CharField(allow_blank=True)
    outcome = serializers.ChoiceField(choices=["created", "updated", "unchanged", "error", "warning"])
    message = serializers.CharField(allow_blank=True)


def _report_body(report: IngestReport) -> dict:
    return {
        "location": report.location.pk if report.location else None,
        "summary": report.summary(),
        "failed": report.failed,
        "orphaned": report.orphaned,
        "needs_confirmation": report.needs_confirmation,
        "results": DocumentResultSerializer(report.results, many=True).data,
    }


REPORT_SERIALIZER = inline_serializer(
    "IngestReport",
    {
        "location": serializers.IntegerField(allow_null=True),
        "summary": serializers.CharField(),
        "failed": serializers.BooleanField(),
        "orphaned": serializers.IntegerField(),
        "needs_confirmation": serializers.BooleanField(),
        "results": DocumentResultSerializer(many=True),
    },
)


def _validation_error(exc: CatalogError) -> Response:
    body = {"detail": exc.message}
    if isinstance(exc.errors, dict):
        body.update(exc.errors)
    elif exc.errors:
        body["errors"] = exc.errors
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


class LocationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Where descriptors come from. Registering queues the first read; the location's status says how it went."""

    serializer_class = LocationSerializer

    def get_queryset(self):
        return restrict(Location.objects.all(), user=self.request.user).prefetch_related("problems")

    @extend_schema(
        request=LocationCreateSerializer,
        responses={201: LocationSerializer},
        examples=[
            OpenApiExample(
                "A repository",
                value={"target": "https://github.com/acme/payments-api.git", "path": "catalog-info.yaml"},
            )
        ],
    )
    def create(self, request):
        payload = LocationCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            location = location_register(actor=request.user, **payload.validated_data)
        except CatalogError as exc:
            return _validation_error(exc)
        location_refresh_later(location=location)
        return Response(LocationSerializer(location).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None):
        location = self.get_object()
        if not may_manage(request.user, location):
            raise PermissionDenied("Only whoever registered this location, or an administrator, may delete it.")
        location_delete(actor=request.user, location=location)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=inline_serializer(
            "RefreshRequest",
            {"confirm_empty": serializers.BooleanField(default=False), "wait": serializers.BooleanField(default=False)},
        ),
        responses={200: REPORT_SERIALIZER, 202: LocationSerializer},
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        """Read the location again. With `wait` the refresh runs now and the per-document results come back;
        otherwise it is queued (202). `confirm_empty` accepts that a source now yields nothing."""
        location = self.get_object()
        confirm = bool(request.data.get("confirm_empty"))
        if confirm and not may_manage(request.user, location):
            raise PermissionDenied("Only whoever registered this location, or an administrator, may confirm.")
        if request.data.get("wait") or confirm or location.type == Location.Type.UPLOAD:
            report = location_refresh(location=location, actor=request.user, confirm_empty=confirm)
            return Response(_report_body(report))
        location_refresh_later(location=location)
        return Response(LocationSerializer(location).data, status=status.HTTP_202_ACCEPTED)


class IngestSerializer(serializers.Serializer):
    content = serializers.CharField(help_text="A catalog-info.yaml: one or more YAML documents.", trim_whitespace=False)
    name = serializers.CharField(
        max_length=300,
        required=False,
        default="catalog-info.yaml (API)",
        help_text="Posting again under the same name replaces that file's entities.",
    )


class IngestView(APIView):
    """Post a descriptor file and get one result per document. The file is kept as an upload location, so posting
    a new version under the same name updates and orphans exactly like a repository refresh."""

    @extend_schema(
        request=IngestSerializer,
        responses={200: REPORT_SERIALIZER, 400: REPORT_SERIALIZER},
        examples=[
            OpenApiExample(
                "One component",
                value={
                    "name": "payments",
                    "content": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments-api\n"
                    "spec:\n  type: service\n  lifecycle: production\n  owner: payments-team\n",
                },
            )
        ],
    )
    def post(self, request):
        payload = IngestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            location = location_register(
                actor=request.user,
                type=Location.Type.UPLOAD,
                target=payload.validated_data["name"],
                content=payload.validated_data["content"],
            )
        except CatalogError as exc:
            return _validation_error(exc)
        report = location_refresh(location=location, actor=request.user)
        return Response(_report_body(report), status=status.HTTP_400_BAD_REQUEST if report.failed else 200)
