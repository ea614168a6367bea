"""The catalog's REST API (except locations and ingestion): blueprints, entities (by id and by reference), relations.

Reads go through rbac.selectors.restrict; writes through catalog.services, whose CatalogError becomes a 400 with the
errors by field. An object you may not see is a 404; one you may see but not change is a 403."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors, services
from catalog.filters import EntityFilterSet
from catalog.models import Blueprint, Entity
from rbac.selectors import can


class CatalogRefused(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"


def refused(error: services.CatalogError) -> CatalogRefused:
    """A service's refusal as a 400: {"detail": message, "errors": {field: [messages]} or [messages]}."""
    return CatalogRefused({"detail": error.message, "errors": error.errors})


def check_can(user, action_name: str, obj) -> None:
    if not can(user, action_name, obj):
        raise exceptions.PermissionDenied(f"You may not {action_name} {obj}.")


def check_may_add(user, model) -> None:
    opts = model._meta
    if not (user.is_superuser or user.has_perm(f"{opts.app_label}.add_{opts.model_name}")):
        raise exceptions.PermissionDenied(f"You may not add {opts.verbose_name_plural}.")


# --- blueprints ----------------------------------------------------------------------------------------------------


class BlueprintSerializer(serializers.ModelSerializer):
    entity_count = serializers.IntegerField(read_only=True, required=False)
    schema = serializers.JSONField(required=False, help_text="JSON Schema of the entities' properties.")
    relations = serializers.JSONField(required=False, help_text="[{identifier, title, target, many, required}]")

    class Meta:
        model = Blueprint
        fields = [
            "identifier",
            "title",
            "icon",
            "description",
            "schema",
            "relations",
            "builtin",
            "entity_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["builtin", "created_at", "updated_at"]
        extra_kwargs = {"identifier": {"validators": []}}  # the service says "exists already" in its own words


BLUEPRINT_EXAMPLE = OpenApiExample(
    "Environment blueprint",
    value={
        "identifier": "environment",
        "title": "Environment",
        "description": "Where services run: dev, staging, production.",
        "schema": {
            "type": "object",
            "properties": {
                "tier": {"type": "string", "enum": ["dev", "staging", "prod"], "enumColors": {"prod": "bad"}},
                "url": {"type": "string", "format": "url"},
            },
            "required": ["tier"],
        },
        "relations": [{"identifier": "cluster", "title": "Cluster", "target": "resource", "many": False}],
    },
    request_only=True,
)


@extend_schema_view(
    create=extend_schema(examples=[BLUEPRINT_EXAMPLE], summary="Create a blueprint (platform admins)"),
    partial_update=extend_schema(summary="Change a blueprint; entities that no longer fit are listed as `misfits`"),
    update=extend_schema(summary="Change a blueprint; entities that no longer fit are listed as `misfits`"),
)
class BlueprintViewSet(viewsets.ModelViewSet):
    """Blueprints (entity kinds) by identifier. Everyone signed in reads; writes need the blueprint permissions."""

    serializer_class = BlueprintSerializer
    lookup_field = "identifier"
    lookup_value_regex = "[-a-zA-Z0-9_]+"

    def get_queryset(self):
        return selectors.blueprint_list(user=self.request.user).order_by("identifier")

    def perform_create(self, serializer):
        check_may_add(self.request.user, Blueprint)
        data = serializer.validated_data
        try:
            serializer.instance = services.blueprint_create(
                actor=self.request.user,
                identifier=data["identifier"],
                title=data["title"],
                schema=data.get("schema"),
                relations=data.get("relations"),
                description=data.get("description", ""),
                icon=data.get("icon") or "box",
            )
        except services.CatalogError as error:
            raise refused(error) from error

    def update(self, request, *args, **kwargs):
        blueprint = self.get_object()
        check_can(request.user, "change", blueprint)
        serializer = self.get_serializer(blueprint, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = {
            key: value
            for key, value in serializer.validated_data.items()
            if key in ("title", "description", "icon", "schema", "relations")
        }
        try:
            result = services.blueprint_update(actor=request.user, blueprint=blueprint, **changes)
        except services.CatalogError as error:
            raise refused(error) from error
        body = dict(self.get_serializer(result.blueprint).data)
        body["misfits"] = [{"ref": entity.ref, "errors": entity.schema_errors} for entity in result.misfits]
        return Response(body)

    def perform_destroy(self, instance):
        check_can(self.request.user, "delete", instance)
        try:
            services.blueprint_delete(actor=self.request.user, blueprint=instance)
        except services.CatalogError as error:
            raise refused(error) from error


# --- entities ------------------------------------------------------------------------------------------------------


class EntityPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class EntitySerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner_ref", read_only=True, help_text="Owner reference, lowercase.")
    display_ref = serializers.CharField(read_only=True)
    location = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Entity
        fields = [
            "id",
            "ref",
            "display_ref",
            "kind",
            "namespace",
            "name",
            "title",
            "description",
            "owner",
            "lifecycle",
            "type",
            "tags",
            "labels",
            "annotations",
            "links",
            "properties",
            "orphaned",
            "schema_errors",
            "warnings",
            "location",
            "source_file",
            "source_line",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class EntityDetailSerializer(EntitySerializer):
    class Meta(EntitySerializer.Meta):
        fields = [*EntitySerializer.Meta.fields, "api_version", "descriptor"]
        read_only_fields = fields


class EntityCreateSerializer(serializers.Serializer):
    """Either a descriptor (apiVersion, kind, metadata, spec: a catalog-info.yaml document as JSON) or fields."""

    apiVersion = serializers.CharField(required=False)  # noqa: N815 - the descriptor's own spelling
    kind = serializers.CharField()
    metadata = serializers.DictField(required=False)
    spec = serializers.DictField(required=False)
    name = serializers.CharField(required=False)
    namespace = serializers.CharField(required=False, default="default")
    title = serializers.CharField(required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    labels = serializers.DictField(required=False)
    annotations = serializers.DictField(required=False)
    links = serializers.ListField(child=serializers.DictField(), required=False)
    properties = serializers.DictField(required=False, help_text="The spec.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "metadata" not in attrs and not attrs.get("name"):
            raise serializers.ValidationError({"name": ["Give a name, or send a descriptor with metadata.name."]})
        return attrs

    def descriptor(self) -> dict[str, Any]:
        data = self.validated_data
        if "metadata" in data:
            return {
                "apiVersion": data.get("apiVersion") or "backstage.io/v1alpha1",
                "kind": data["kind"],
                "metadata": data["metadata"],
                "spec": data.get("spec") or {},
            }
        return services.descriptor_from_fields(
            kind=data["kind"],
            name=data["name"],
            namespace=data.get("namespace") or "default",
            title=data.get("title", ""),
            description=data.get("description", ""),
            tags=data.get("tags"),
            labels=data.get("labels"),
            annotations=data.get("annotations"),
            links=data.get("links"),
            properties=data.get("properties") or data.get("spec"),
        )


class EntityUpdateSerializer(serializers.Serializer):
    """Only the fields sent change. `labels` and `annotations` merge (null removes a key); `properties` merge into
    the spec."""

    title = serializers.CharField(required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    links = serializers.ListField(child=serializers.DictField(), required=False)
    labels = serializers.DictField(required=False)
    annotations = serializers.DictField(required=False)
    lifecycle = serializers.CharField(required=False)
    owner = serializers.CharField(required=False)
    properties = serializers.DictField(required=False)


ENTITY_CREATE_EXAMPLES = [
    OpenApiExample(
        "A descriptor",
        value={
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": "payments-api", "description": "Takes payments", "tags": ["python"]},
            "spec": {"type": "service", "lifecycle": "production", "owner": "team-payments", "system": "payments"},
        },
        request_only=True,
    ),
    OpenApiExample(
        "Fields",
        value={"kind": "Environment", "name": "staging", "title": "Staging", "properties": {"tier": "staging"}},
        request_only=True,
    ),
]
ENTITY_UPDATE_EXAMPLE = OpenApiExample(
    "Change the lifecycle and a label",
    value={"lifecycle": "deprecated", "labels": {"cost-centre": "cc-42"}, "properties": {"tier": "prod"}},
    request_only=True,
)
RELATIONS_RESPONSE = inline_serializer(
    "EntityRelations",
    {
        "entity": serializers.CharField(),
        "relations": inline_serializer(
            "RelationGroup",
            {
                "type": serializers.CharField(),
                "total": serializers.IntegerField(),
                "items": inline_serializer(
                    "RelatedEntity",
                    {
                        "ref": serializers.CharField(),
                        "direction": serializers.ChoiceField(choices=["outgoing", "incoming"]),
                        "resolved": serializers.BooleanField(),
                        "id": serializers.IntegerField(allow_null=True),
                        "title": serializers.CharField(),
                    },
                    many=True,
                ),
            },
            many=True,
        ),
    },
)


def relations_body(entity: Entity, *, user) -> dict[str, Any]:
    groups = selectors.entity_relations(entity, user=user, per_type=500)
    return {
        "entity": entity.ref,
        "relations": [
            {
                "type": group.type,
                "total": group.total,
                "items": [
                    {
                        "ref": row.ref,
                        "direction": "outgoing" if row.outgoing else "incoming",
                        "resolved": row.resolved,
                        "id": row.entity.pk if row.entity else None,
                        "title": row.entity.display_name if row.entity else "",
                    }
                    for row in group.rows
                ],
            }
            for group in groups
        ],
    }


def entity_update_response(request, entity: Entity) -> Response:
    check_can(request.user, "change", entity)
    serializer = EntityUpdateSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        entity = services.entity_update(actor=request.user, entity=entity, changes=dict(serializer.validated_data))
    except services.CatalogError as error:
        raise refused(error) from error
    return Response(EntityDetailSerializer(entity).data)


def entity_delete_response(request, entity: Entity) -> Response:
    check_can(request.user, "delete", entity)
    services.entity_delete(actor=request.user, entity=entity)
    return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List entities, with the catalog page's filters"),
    create=extend_schema(
        request=EntityCreateSerializer,
        responses={201: EntityDetailSerializer},
        examples=ENTITY_CREATE_EXAMPLES,
        summary="Create an entity from a descriptor or from fields",
    ),
    update=extend_schema(
        request=EntityUpdateSerializer, responses=EntityDetailSerializer, examples=[ENTITY_UPDATE_EXAMPLE]
    ),
    partial_update=extend_schema(
        request=EntityUpdateSerializer, responses=EntityDetailSerializer, examples=[ENTITY_UPDATE_EXAMPLE]
    ),
)
class EntityViewSet(viewsets.ModelViewSet):
    """Entities by id. List filters: q, kind, type, owner, lifecycle, tag, namespace, sort; `page_size` up to 500."""

    filterset_class = EntityFilterSet
    pagination_class = EntityPagination

    def get_queryset(self):
        queryset = selectors.entities_visible(user=self.request.user)
        if self.action == "list":
            return queryset.defer("descriptor", "search_document")
        return queryset

    def get_serializer_class(self):
        return EntitySerializer if self.action == "list" else EntityDetailSerializer

    def create(self, request, *args, **kwargs):
        check_may_add(request.user, Entity)
        serializer = EntityCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            entity = services.entity_create(actor=request.user, descriptor=serializer.descriptor())
        except services.CatalogError as error:
            raise refused(error) from error
        return Response(EntityDetailSerializer(entity).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        return entity_update_response(request, self.get_object())

    def destroy(self, request, *args, **kwargs):
        return entity_delete_response(request, self.get_object())

    @extend_schema(responses=RELATIONS_RESPONSE, filters=False, summary="The entity's relations, both directions")
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def relations(self, request, pk=None):
        return Response(relations_body(self.get_object(), user=request.user))


REF_PARAMETERS = [
    OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. component"),
    OpenApiParameter("namespace", OpenApiTypes.STR, OpenApiParameter.PATH, description="default when left out"),
    OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. payments-api"),
]


class EntityByRefView(APIView):
    """One entity by reference: `/by-ref/component:default/payments-api/` or `/by-ref/component:payments-api/`."""

    def _entity(self, request, kind: str, namespace: str | None, name: str) -> Entity:
        return selectors.entity_get(user=request.user, kind=kind, namespace=namespace or "default", name=name)

    @extend_schema(
        parameters=REF_PARAMETERS,
        responses=EntityDetailSerializer,
        summary="Read an entity by reference",
        operation_id="catalog_entity_by_ref_retrieve",
    )
    def get(self, request, kind: str, name: str, namespace: str | None = None):
        return Response(EntityDetailSerializer(self._entity(request, kind, namespace, name)).data)

    @extend_schema(
        parameters=REF_PARAMETERS,
        request=EntityUpdateSerializer,
        responses=EntityDetailSerializer,
        examples=[ENTITY_UPDATE_EXAMPLE],
        summary="Change an entity by reference",
        operation_id="catalog_entity_by_ref_partial_update",
    )
    def patch(self, request, kind: str, name: str, namespace: str | None = None):
        return entity_update_response(request, self._entity(request, kind, namespace, name))

    @extend_schema(
        parameters=REF_PARAMETERS,
        responses={204: None},
        summary="Delete an entity by reference",
        operation_id="catalog_entity_by_ref_destroy",
    )
    def delete(self, request, kind: str, name: str, namespace: str | None = None):
        return entity_delete_response(request, self._entity(request, kind, namespace, name))


SHORT_REF_PARAMETERS = [OpenApiParameter("namespace", OpenApiTypes.STR, OpenApiParameter.PATH, exclude=True)]


@extend_schema_view(
    get=extend_schema(parameters=SHORT_REF_PARAMETERS, operation_id="catalog_entity_by_short_ref_retrieve"),
    patch=extend_schema(parameters=SHORT_REF_PARAMETERS, operation_id="catalog_entity_by_short_ref_partial_update"),
    delete=extend_schema(parameters=SHORT_REF_PARAMETERS, operation_id="catalog_entity_by_short_ref_destroy"),
)
class EntityByShortRefView(EntityByRefView):
    """One entity in the default namespace by `kind:name`."""


class RelationListView(APIView):
    """Relations of the entity `?entity=kind:namespace/name`, both directions, grouped by type."""

    @extend_schema(
        parameters=[OpenApiParameter("entity", OpenApiTypes.STR, required=True, description="component:payments-api")],
        responses=RELATIONS_RESPONSE,
        examples=[
            OpenApiExample(
                "Relations of a component",
                value={
                    "entity": "component:default/payments-api",
                    "relations": [
                        {
                            "type": "ownedBy",
                            "total": 1,
                            "items": [
                                {
                                    "ref": "group:default/team-payments",
                                    "direction": "outgoing",
                                    "resolved": True,
                                    "id": 7,
                                    "title": "Payments team",
                                }
                            ],
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        ref = request.query_params.get("entity", "").strip()
        if not ref:
            raise exceptions.ValidationError({"entity": ["Give the entity's reference, e.g. component:payments-api."]})
        try:
            entity = selectors.entity_get_by_ref(user=request.user, ref=ref)
        except Http404 as exc:
            raise exceptions.NotFound(str(exc)) from exc
        return Response(relations_body(entity, user=request.user))
