"""The dashboards' API twin: the services overview, a service's snapshots, Sync now, and integration status."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Entity
from dashboards import selectors, services
from dashboards.models import CIStatusSnapshot, DeploymentSnapshot, MetricSnapshot, WorkloadSnapshot
from dashboards.polling import SYSTEMS
from rbac.selectors import CHANGE, can, restrict

_FRESHNESS_FIELDS = ["read_at", "last_error", "last_error_at", "consecutive_failures", "next_attempt_at", "stale"]


class _SnapshotSerializer(serializers.ModelSerializer):
    stale = serializers.SerializerMethodField()

    def get_stale(self, obj) -> bool:
        return not selectors.freshness(obj).ok


class DeploymentSerializer(_SnapshotSerializer):
    class Meta:
        model = DeploymentSnapshot
        fields = [
            "id",
            "instance",
            "app_name",
            "project",
            "sync_status",
            "health_status",
            "health_message",
            "revision",
            "target_revision",
            "repo_url",
            "path",
            "last_synced_at",
            "history",
            "out_of_sync",
            "operation_phase",
            "operation_message",
            "images",
            *_FRESHNESS_FIELDS,
        ]


class MetricSerializer(_SnapshotSerializer):
    class Meta:
        model = MetricSnapshot
        fields = ["window", "label", "request_rate", "error_ratio", "p50", "p95", "series", *_FRESHNESS_FIELDS]


class WorkloadSerializer(_SnapshotSerializer):
    class Meta:
        model = WorkloadSnapshot
        fields = ["cluster", "deployments", "pods", "events", *_FRESHNESS_FIELDS]


class CIStatusSerializer(_SnapshotSerializer):
    class Meta:
        model = CIStatusSnapshot
        fields = ["repo", "runs", "pulls", *_FRESHNESS_FIELDS]


class ServiceSerializer(serializers.ModelSerializer):
    health = serializers.SerializerMethodField()
    deployments = serializers.SerializerMethodField()

    class Meta:
        model = Entity
        fields = [
            "ref",
            "kind",
            "namespace",
            "name",
            "title",
            "owner_ref",
            "type",
            "lifecycle",
            "health",
            "deployments",
        ]

    def get_health(self, obj) -> str:
        snapshots = list(obj.deployment_snapshots.all())
        return selectors.worst_health(snapshots) if snapshots else ""

    def get_deployments(self, obj) -> list[dict]:
        return [
            {
                "app_name": item.app_name,
                "instance": item.instance,
                "sync_status": item.sync_status,
                "health_status": item.health_status,
                "read_at": item.read_at,
                "stale": not selectors.freshness(item).ok,
            }
            for item in obj.deployment_snapshots.all()
        ]


def _entity(request: Request, ref: str) -> Entity:
    return get_object_or_404(restrict(Entity.objects.all(), user=request.user), ref=ref.lower())


@extend_schema(
    parameters=[
        OpenApiParameter("owner", str, description="Owner ref, e.g. group:default/team-a"),
        OpenApiParameter("system", str, description="System ref, e.g. system:default/shop"),
    ]
)
class ServiceListView(generics.ListAPIView):
    """Every service's deployment health (the /services/ page)."""

    serializer_class = ServiceSerializer

    def get_queryset(self):
        params = self.request.query_params
        return selectors.service_list(
            user=self.request.user, owner=params.get("owner", "").strip(), system=params.get("system", "").strip()
        )


class EntityDeploymentsView(generics.ListAPIView):
    """The Argo CD applications of one service (`ref` is kind:namespace/name)."""

    queryset = DeploymentSnapshot.objects.none()  # for the schema; get_queryset restricts
    serializer_class = DeploymentSerializer
    pagination_class = None

    def get_queryset(self):
        return DeploymentSnapshot.objects.filter(entity=_entity(self.request, self.kwargs["ref"]))


@extend_schema(parameters=[OpenApiParameter("window", str, enum=["1h", "6h", "24h"])])
class EntityMetricsView(generics.ListAPIView):
    """The golden signals of one service, per window (all windows unless `window` is given)."""

    queryset = MetricSnapshot.objects.none()  # for the schema; get_queryset restricts
    serializer_class = MetricSerializer
    pagination_class = None

    def get_queryset(self):
        queryset = MetricSnapshot.objects.filter(entity=_entity(self.request, self.kwargs["ref"]))
        window = self.request.query_params.get("window")
        return queryset.filter(window=window) if window else queryset


class EntityWorkloadsView(generics.ListAPIView):
    """Deployments, pods and warning events of one service, per cluster."""

    queryset = WorkloadSnapshot.objects.none()  # for the schema; get_queryset restricts
    serializer_class = WorkloadSerializer
    pagination_class = None

    def get_queryset(self):
        return WorkloadSnapshot.objects.filter(entity=_entity(self.request, self.kwargs["ref"]))


class EntityCIView(generics.ListAPIView):
    """Latest workflow runs and open pull requests of one service's repository."""

    queryset = CIStatusSnapshot.objects.none()  # for the schema; get_queryset restricts
    serializer_class = CIStatusSerializer
    pagination_class = None

    def get_queryset(self):
        return CIStatusSnapshot.objects.filter(entity=_entity(self.request, self.kwargs["ref"]))


_RESULT = inline_serializer("ActionResult", {"ok": serializers.BooleanField(), "message": serializers.CharField()})


class DeploymentSyncView(APIView):
    """Ask Argo CD to sync one application of a service (needs change permission on the service)."""

    @extend_schema(request=None, responses={200: _RESULT, 403: _RESULT, 502: _RESULT})
    def post(self, request: Request, ref: str, pk: int) -> Response:
        entity = _entity(request, ref)
        snapshot = get_object_or_404(DeploymentSnapshot, pk=pk, entity=entity)
        if not can(request.user, CHANGE, entity):
            return Response(
                {"ok": False, "message": "You may not sync this service."}, status=status.HTTP_403_FORBIDDEN
            )
        result = services.deployment_sync(actor=request.user, snapshot=snapshot)
        code = status.HTTP_200_OK if result.ok else status.HTTP_502_BAD_GATEWAY
        return Response({"ok": result.ok, "message": result.message}, status=code)


class IntegrationListView(APIView):
    """Each system: configured or not, its instances (described without secrets) and their latest poll."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        responses=inline_serializer(
            "Integration",
            {
                "system": serializers.CharField(),
                "title": serializers.CharField(),
                "configured": serializers.BooleanField(),
                "error": serializers.CharField(),
                "instances": serializers.ListField(child=serializers.DictField()),
            },
            many=True,
        )
    )
    def get(self, request: Request) -> Response:
        payload = []
        for state in selectors.system_states().values():
            instances = []
            for instance in state.configuration.instances:
                row = state.statuses.get(instance.name)
                instances.append(
                    {
                        "name": instance.name,
                        "description": instance.description,
                        "ok": row.ok if row else None,
                        "message": row.message if row else "",
                        "checked_at": row.checked_at if row else None,
                        "consecutive_failures": row.consecutive_failures if row else 0,
                        "next_attempt_at": row.next_attempt_at if row else None,
                    }
                )
            payload.append(
                {
                    "system": state.key,
                    "title": state.title,
                    "configured": state.configured,
                    "error": state.error,
                    "instances": instances,
                }
            )
        return Response(payload)


class IntegrationTestView(APIView):
    """Try one instance's connection now."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses={200: _RESULT, 404: None})
    def post(self, request: Request, system: str, instance: str) -> Response:
        if system not in SYSTEMS:
            return Response({"ok": False, "message": "No such integration."}, status=status.HTTP_404_NOT_FOUND)
        result = services.integration_test(actor=request.user, system=system, instance=instance)
        return Response({"ok": result.ok, "message": result.message})
