"""The API twin: list actions with their input schema, add an action, run one (201 or 400 by field), read, cancel,
re-run and approve runs; anonymous is 401, other members' runs are 404."""

import json

import pytest
from rest_framework.test import APIClient

from scaffolder import engine
from scaffolder.models import Action, ActionRun
from tests.scaffolder.conftest import SERVICE_INPUTS

pytestmark = pytest.mark.django_db

DEFINITION = """
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: hello, title: Say hello}
spec:
  type: service
  parameters:
    - properties:
        who: {type: string, title: Who}
      required: [who]
  steps:
    - id: log
      name: Log
      action: debug:log
      input: {message: "Hello ${{ parameters.who }}"}
"""


def test_anonymous_gets_401(shipped_actions):
    client = APIClient()
    assert client.get("/api/scaffolder/actions/").status_code == 401
    assert client.post("/api/scaffolder/actions/python-service/runs/", {}, format="json").status_code == 401
    assert client.get("/api/scaffolder/runs/").status_code == 401


def test_actions_list_their_input_schema(api, shipped_actions):
    response = api.get("/api/scaffolder/actions/")
    assert response.status_code == 200
    actions = {action["identifier"]: action for action in response.json()}
    schema = actions["python-service"]["inputs"]
    assert schema["properties"]["name"]["pattern"] == "^[a-z][a-z0-9-]*[a-z0-9]$"
    assert "name" in schema["required"]


def test_run_through_the_api(api, team, shipped_actions, repos_dir):
    response = api.post("/api/scaffolder/actions/python-service/runs/", {"inputs": SERVICE_INPUTS}, format="json")
    assert response.status_code == 201, response.json()
    run_id = response.json()["id"]
    engine.execute_run(run_id)
    detail = api.get(f"/api/scaffolder/runs/{run_id}/").json()
    assert detail["status"] == "succeeded"
    assert [step["step_id"] for step in detail["steps"]][:3] == ["skeleton", "manifests", "publish"]
    assert any("registered component:default/payments-api" in line["message"] for line in detail["log"])


def test_bad_inputs_are_400_by_field(api, team, shipped_actions):
    response = api.post(
        "/api/scaffolder/actions/python-service/runs/",
        {"inputs": {**SERVICE_INPUTS, "name": "../evil", "description": "${{ user }}"}},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) >= {"name", "description"}
    assert not ActionRun.objects.exists()


def test_day2_needs_a_target_entity(api, team, shipped_actions):
    response = api.post(
        "/api/scaffolder/actions/scale-service/runs/", {"inputs": {"minReplicas": 1, "maxReplicas": 2}}, format="json"
    )
    assert response.status_code == 400
    assert "target" in response.json()["errors"]


def test_only_admins_add_actions(api, admin_api, db):
    assert api.post("/api/scaffolder/actions/", {"definition": DEFINITION}, format="json").status_code == 403
    response = admin_api.post("/api/scaffolder/actions/", {"definition": DEFINITION}, format="json")
    assert response.status_code == 201, response.json()
    assert Action.objects.get(identifier="hello").source == Action.Source.API
    unknown = DEFINITION.replace("debug:log", "acme:deploy")
    unknown = unknown.replace("name: hello", "name: hello2")
    bad = admin_api.post("/api/scaffolder/actions/", {"definition": unknown}, format="json")
    assert bad.status_code == 400
    assert "acme:deploy" in json.dumps(bad.json()["errors"])


def test_commands_and_visibility(api, admin_api, django_user_model, team, shipped_actions):
    run_id = api.post(
        "/api/scaffolder/actions/python-service/runs/", {"inputs": SERVICE_INPUTS, "dry_run": True}, format="json"
    ).json()["id"]
    other = APIClient()
    other.force_authenticate(django_user_model.objects.create_user(username="other"))
    assert other.get(f"/api/scaffolder/runs/{run_id}/").status_code == 404
    assert other.post(f"/api/scaffolder/runs/{run_id}/cancel/").status_code == 404
    assert api.post(f"/api/scaffolder/runs/{run_id}/approve/").status_code == 403
    assert api.post(f"/api/scaffolder/runs/{run_id}/cancel/").json()["status"] == "cancelled"
    assert api.post(f"/api/scaffolder/runs/{run_id}/cancel/").status_code == 409
    again = api.post(f"/api/scaffolder/runs/{run_id}/retry/")
    assert again.status_code == 201
    assert again.json()["inputs"] == ActionRun.objects.get(pk=run_id).inputs
    assert [run["id"] for run in admin_api.get("/api/scaffolder/runs/?scope=all").json()["results"]] == [
        again.json()["id"],
        run_id,
    ]


def test_openapi_schema_documents_each_actions_inputs(api, shipped_actions):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    operation = json.loads(response.content)["paths"]["/api/scaffolder/actions/{identifier}/runs/"]["post"]
    assert "#### `python-service`: Create a Python web service (create)" in operation["description"]
    assert '"pattern": "^[a-z][a-z0-9-]*[a-z0-9]$"' in operation["description"]
