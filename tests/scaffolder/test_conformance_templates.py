"""Backstage's own sample templates: each v1beta3 template loads and dry-runs (or names exactly which steps Portico
lacks), and older v1beta2/v1alpha1 templates are refused with the migration message."""

from pathlib import Path

import pytest

from scaffolder.definitions import DefinitionError, load_yaml_documents, parse_definition
from scaffolder.expressions import evaluate_condition, expression_context, render_value
from scaffolder.forms import clean_inputs, page_visible, pages
from scaffolder.steps import STEP_LIBRARY, StepContext, dry_run_check, run_step
from tests.helpers import skip_unless_available

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
BACKSTAGE = SHARED / "conformance" / "backstage"
SAMPLES = "plugins/scaffolder-backend/sample-templates"
MIGRATE = "templates, which Portico does not run; migrate to scaffolder.backstage.io/v1beta3"
V1BETA2 = f"uses backstage.io/v1beta2 (handlebars) {MIGRATE}"
V1ALPHA1 = f"uses backstage.io/v1alpha1 (cookiecutter) {MIGRATE}"
NOT_A_TEMPLATE = "is not an action"

# Per file, per document: (name, what Portico must say). A list names the step actions Portico lacks.
EXPECTED = {
    "examples/test-recovery/template.yaml": [
        ("test-recovery-template", ["test:produce-output", "test:delay", "test:consume-output"])
    ],
    f"{SAMPLES}/accordion-demo/template.yaml": [("accordion-field-demo", [])],
    f"{SAMPLES}/all-templates.yaml": [("example-templates", NOT_A_TEMPLATE)],
    f"{SAMPLES}/azure-devops-demo/python-sample/catalog-info.yaml": [
        ("${{ values.name }}", NOT_A_TEMPLATE),
        ("${{ values.name }}-hello-api", NOT_A_TEMPLATE),
        ("${{ values.name }}-hello-name-api", NOT_A_TEMPLATE),
        ("${{ values.name }}-isalive-api", NOT_A_TEMPLATE),
    ],
    f"{SAMPLES}/bitbucket-cloud-demo/template.yaml": [("bitbucket-cloud", V1BETA2)],
    f"{SAMPLES}/bitbucket-demo/template.yaml": [("bitbucket-demo", V1BETA2)],
    f"{SAMPLES}/bui-kitchen-sink-demo/template.yaml": [("bui-kitchen-sink-demo", [])],
    f"{SAMPLES}/conditional-output-demo/template.yaml": [("conditional-output-demo", [])],
    f"{SAMPLES}/conditional-parameters-demo/template.yaml": [("conditional-parameters-demo", [])],
    f"{SAMPLES}/create-react-app/template.yaml": [("create-react-app-template", V1BETA2)],
    f"{SAMPLES}/docs-template/template.yaml": [("docs-template", V1ALPHA1)],
    f"{SAMPLES}/local-templates.yaml": [("example-templates-local", NOT_A_TEMPLATE)],
    f"{SAMPLES}/longrunning-demo/wait-action.yaml": [("wait-action", ["stress:waitWorkflow"])],
    f"{SAMPLES}/mlflow/template.yaml": [("mlflow-experiment-template", V1ALPHA1)],
    f"{SAMPLES}/notifications-demo/template.yaml": [("notifications-demo", ["notification:send"])],
    f"{SAMPLES}/pull-request/template.yaml": [("pull-request", V1BETA2)],
    f"{SAMPLES}/rails-demo/template.yaml": [("rails-demo", V1BETA2)],
    f"{SAMPLES}/react-ssr-template/template.yaml": [("react-ssr-template", V1BETA2)],
    f"{SAMPLES}/remote-templates.yaml": [("example-templates-remote", NOT_A_TEMPLATE)],
    f"{SAMPLES}/springboot-grpc-template/template.yaml": [("springboot-template", V1BETA2)],
    f"{SAMPLES}/springboot-template/template.yaml": [("springboot-template", V1ALPHA1)],
    f"{SAMPLES}/template.yaml": [("test", [])],
    f"{SAMPLES}/test-template-v2/template.yaml": [
        ("test-template-v2", V1BETA2),
        ("test-template-v2-gitlab", V1BETA2),
        ("test-template-v2-bitbucket", V1BETA2),
        ("test-template-v2-azure", V1BETA2),
    ],
    f"{SAMPLES}/v1beta2-demo/template.yaml": [("v1beta2-demo", V1BETA2)],
}
RUNNABLE = [path for path, documents in EXPECTED.items() if any(outcome == [] for _name, outcome in documents)]


def template_files():
    """Every YAML file of the sample set that is an entity, not an unrendered file in skeleton/ or template/."""
    if not BACKSTAGE.is_dir():
        return []
    files = [BACKSTAGE / "examples/test-recovery/template.yaml", *sorted((BACKSTAGE / SAMPLES).rglob("*.yaml"))]
    return [
        path.relative_to(BACKSTAGE).as_posix()
        for path in files
        if not {"skeleton", "template"} & set(path.relative_to(BACKSTAGE).parts[:-1])
    ]


def documents(relative):
    if not BACKSTAGE.is_dir():
        skip_unless_available(f"the Backstage conformance files are missing from {BACKSTAGE}")
    return load_yaml_documents((BACKSTAGE / relative).read_text())


def test_every_sample_file_has_an_expectation():
    if not BACKSTAGE.is_dir():
        skip_unless_available(f"the Backstage conformance files are missing from {BACKSTAGE}")

    assert set(template_files()) == set(EXPECTED)


@pytest.mark.parametrize("relative", template_files() or sorted(EXPECTED))
def test_sample_template(relative):
    loaded = documents(relative)
    expected = EXPECTED[relative]

    assert [document["metadata"]["name"] for document in loaded] == [name for name, _outcome in expected]
    for document, (name, outcome) in zip(loaded, expected, strict=True):
        if isinstance(outcome, list):
            definition = parse_definition(document)
            assert definition.identifier == name
            assert definition.source_kind == "backstage"
            available = ", ".join(sorted(STEP_LIBRARY))
            unsupported = [step for step in definition.steps if step.action in outcome]
            assert dry_run_check(definition) == [
                f"step {step.id!r} uses {step.action!r}, which Portico does not have; available: {available}"
                for step in unsupported
            ]
            assert sorted({step.action for step in unsupported}) == sorted(outcome)
        else:
            with pytest.raises(DefinitionError) as caught:
                parse_definition(document)
            assert outcome in str(caught.value)
            if outcome != NOT_A_TEMPLATE:
                assert str(caught.value) == f"template {name!r} {outcome}"


def sample_value(schema):
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("format") == "email":
        return "dev@example.test"
    return {"integer": schema.get("minimum", 1), "number": 1, "boolean": True, "array": [], "object": {}}.get(
        schema.get("type"), "example"
    )


def fill(parameters):
    """What a person would type: every required field of every page they are shown."""
    data = {}
    for page in pages(parameters):
        if page_visible(page, data):
            for name in page.get("required", []):
                data.setdefault(name, sample_value(page["properties"][name]))
    return data


@pytest.mark.parametrize("relative", RUNNABLE)
def test_templates_whose_steps_portico_has_run_to_the_end(relative, tmp_path):
    (document,) = documents(relative)
    definition = parse_definition(document)
    cleaned = clean_inputs(definition.parameters, fill(definition.parameters))
    logged = []
    outputs = {}

    assert cleaned.errors == {}
    for step in definition.steps:
        context = expression_context(parameters=cleaned.values, steps_outputs=outputs, user={"ref": "user:default/a"})
        if evaluate_condition(step.if_, context):
            ctx = StepContext(
                workspace=tmp_path,
                parameters=cleaned.values,
                user={},
                steps_outputs=outputs,
                checkpoint={},
                dry_run=True,
                log=lambda level, message: logged.append(message),
                step_id=step.id,
            )
            outputs[step.id] = run_step(step.action, ctx, render_value(step.input, context))
    context = expression_context(parameters=cleaned.values, steps_outputs=outputs)
    shown = {
        key: [render_value(item, context) for item in items if evaluate_condition(item.get("if"), context)]
        for key, items in definition.output.items()
    }

    assert len(logged) == len(definition.steps)
    assert all("${{" not in message for message in logged)
    assert all("${{" not in str(items) for items in shown.values())


def test_conditional_output_links_follow_the_parameters():
    (document,) = documents(f"{SAMPLES}/conditional-output-demo/template.yaml")
    links = parse_definition(document).output["links"]

    def shown(enable_ci):
        context = expression_context(parameters={"name": "svc", "enableCI": enable_ci})
        return [link["title"] for link in links if evaluate_condition(link.get("if"), context)]

    assert shown("Yes") == ["Backstage Homepage", "CI Dashboard", "CI Docs"]
    assert shown("No") == ["Backstage Homepage"]


def test_conditional_parameter_pages_follow_earlier_answers():
    (document,) = documents(f"{SAMPLES}/conditional-parameters-demo/template.yaml")
    parameters = parse_definition(document).parameters

    gcp = clean_inputs(parameters, {"name": "svc", "cloudProvider": "GCP", "awsRegion": "us-east-1"})

    assert gcp.errors == {"gcpProjectId": ["This field is required."]}
    assert "awsRegion" not in gcp.values
    assert gcp.values["gcpRegion"] == "us-central1"
