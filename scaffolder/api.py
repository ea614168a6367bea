"""REST API of the scaffolder: actions (list, add by definition), runs (request, read with steps and log, cancel,
re-run, approve). Command endpoints are explicit API views with input serializers."""

from __future__ import annotations

import json

from django.http import Http404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Entity
from catalog.refs import InvalidRef, parse_ref
from rbac.selectors import restrict
from scaffolder import selectors, services
from scaffolder.definitions import DefinitionError, parse_definition
from scaffolder.forms import merged_schema
from scaffolder.models import Action, ActionRun, RunLogLine, RunStep
from scaffolder.services import ScaffolderError


class ActionSerializer(serializers.ModelSerializer):
    blueprint = serializers.CharField(source="blueprint.identifier")
    inputs = serializers.SerializerMethodField(help_text="JSON Schema of the inputs POST .../runs/ takes.")

    class Meta:
        model = Action
        fields = [
            "identifier",
            "title",
            "description",
            "blueprint",
            "operation",
            "source",
            "approval_required",
            "tags",
            "inputs",
        ]

    def get_inputs(self, action: Action) -> dict:
        try:
            return merged_schema(parse_definition(action.definition).parameters)
        except DefinitionError:
            return {}


class ActionDefinitionInput(serializers.Serializer):
    definition = serializers.JSONField(
        help_text="A portico.dev/v1 Action or Backstage v1beta3 Template: YAML text or JSON."
    )


class RunStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunStep
        fields = ["step_id", "name", "action", "status", "attempts", "output", "error", "started_at", "finished_at"]


class RunLogSerializer(serializers.ModelSerializer):
    step = serializers.CharField(source="step.step_id", default=None)

    class Meta:
        model = RunLogLine
        fields = ["id", "created", "level", "step", "message"]


class RunSerializer(serializers.ModelSerializer):
    action = serializers.CharField(source="action.identifier")
    requested_by = serializers.CharField(source="requested_by.username", default=None)
    approved_by = serializers.CharField(source="approved_by.username", default=None)

    class Meta:
        model = ActionRun
        fields = [
            "id",
            "action",
            "target_ref",
            "status",
            "dry_run",
            "inputs",
            "outputs",
            "error",
            "requested_by",
            "approved_by",
            "retry_of",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        ]


class RunDetailSerializer(RunSerializer):
    steps = RunStepSerializer(many=True, read_only=True)
    log = serializers.SerializerMethodField()

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "steps", "log"]

    def get_log(self, run: ActionRun) -> list[dict]:
        return RunLogSerializer(selectors.run_log(run=run, limit=2000), many=True).data


class RunRequestInput(serializers.Serializer):
    inputs = serializers.DictField(default=dict, help_text="Values for the action's inputs (see the action's schema).")
    dry_run = serializers.BooleanField(default=False)
    entity = serializers.CharField(required=False, allow_blank=True, help_text="Target entity ref (day-2, delete).")


class ActionList(APIView):
    serializer_class = ActionSerializer

    def get_permissions(self):
        return [IsAdminUser()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(responses=ActionSerializer(many=True), description="Actions you may run, each with its inputs.")
    def get(self, request):
        actions = selectors.action_list(user=request.user, operation=request.query_params.get("operation") or None)
        return Response(ActionSerializer(actions, many=True).data)

    @extend_schema(request=ActionDefinitionInput, responses={201: ActionSerializer})
    def post(self, request):
        data = ActionDefinitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        definition = data.validated_data["definition"]
        text = definition if isinstance(definition, str) else json.dumps(definition)
        try:
            action = services.action_create_from_text(actor=request.user, text=text)
        except ScaffolderError as exc:
            return Response({"detail": exc.message, "errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ActionSerializer(action).data, status=status.HTTP_201_CREATED)


class ActionDetail(RetrieveAPIView):
    serializer_class = ActionSerializer
    lookup_field = "identifier"

    def get_queryset(self):
        return selectors.action_list(user=self.request.user)


class _RunSchema(AutoSchema):
    """Documents the inputs of every enabled action, read when the schema is generated (one JSON Schema language for
    the form, the validation and these docs)."""

    def get_description(self) -> str:
        lines = [
            "Run an action. `inputs` must fit the action's JSON Schema below; 400 with `errors` by field when not.",
            "Day-2 and delete actions need `entity` (a catalog reference).",
        ]
        for action in Action.objects.filter(enabled=True).order_by("identifier"):
            try:
                schema = merged_schema(parse_definition(action.definition).parameters)
            except DefinitionError:
                continue
            lines += ["", f"#### `{action.identifier}`: {action.title} ({action.operation})", "```json"]
            lines += [json.dumps(schema, indent=2), "```"]
        return "\n".join(lines)


class ActionRunCreate(APIView):
    schema = _RunSchema()

    @extend_schema(request=RunRequestInput, responses={201: RunSerializer})
    def post(self, request, identifier: str):
        try:
            action = selectors.action_get(user=request.user, identifier=identifier)
        except Action.DoesNotExist as exc:
            raise Http404("No such action.") from exc
        data = RunRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        target = None
        if data.validated_data.get("entity"):
            try:
                ref = str(parse_ref(data.validated_data["entity"]))
            except InvalidRef as exc:
                return Response({"detail": str(exc), "errors": {"entity": [str(exc)]}}, status=400)
            target = restrict(Entity.objects.all(), user=request.user).filter(ref=ref).first()
            if target is None:
                message = f"{ref} is not in the catalog."
                return Response({"detail": message, "errors": {"entity": [message]}}, status=400)
        try:
            run = services.run_request(
                actor=request.user,
                action=action,
                inputs=data.validated_data["inputs"],
                target_entity=target,
                dry_run=data.validated_data["dry_run"],
            )
        except ScaffolderError as exc:
            return Response({"detail": exc.message, "errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED)


@extend_schema(
    parameters=[
        OpenApiParameter("scope", str, enum=["mine", "all"]),
        OpenApiParameter("status", str, enum=[value for value, _ in ActionRun.Status.choices]),
    ]
)
class RunList(ListAPIView):
    serializer_class = RunSerializer

    def get_queryset(self):
        return selectors.run_list(
            user=self.request.user,
            scope=self.request.query_params.get("scope", "mine"),
            status=self.request.query_params.get("status") or None,
        ).select_related("approved_by")


class RunDetail(RetrieveAPIView):
    serializer_class = RunDetailSerializer

    def get_object(self):
        try:
            return selectors.run_get(user=self.request.user, pk=self.kwargs["pk"])
        except ActionRun.DoesNotExist as exc:
            raise Http404("No such run.") from exc


class RunCommand(APIView):
    command = ""

    @extend_schema(request=None, responses={200: RunSerializer, 201: RunSerializer})
    def post(self, request, pk: int):
        try:
            run = selectors.run_get(user=request.user, pk=pk)
        except ActionRun.DoesNotExist as exc:
            raise Http404("No such run.") from exc
        if self.command == "approve" and not request.user.is_staff:
            return Response({"detail": "Only platform admins approve runs."}, status=status.HTTP_403_FORBIDDEN)
        if not (request.user.is_staff or run.requested_by_id == request.user.pk):
            raise Http404("No such run.")
        service = {"cancel": services.run_cancel, "retry": services.run_retry, "approve": services.run_approve}
        try:
            result = service[self.command](actor=request.user, run=run)
        except ScaffolderError as exc:
            return Response({"detail": exc.message, "errors": exc.errors}, status=status.HTTP_409_CONFLICT)
        code = status.HTTP_201_CREATED if self.command == "retry" else status.HTTP_200_OK
        return Response(RunSerializer(result).data, status=code)
