import pytest

from scaffolder.definitions import (
    ActionDefinition,
    DefinitionError,
    golden_paths,
    load_definition_file,
    load_yaml_documents,
    parse_definition,
)

PORTICO_ACTION = """
apiVersion: portico.dev/v1
kind: Action
metadata:
  name: add-cache
  title: Add a Redis cache
  description: A cache for the service.
  tags: [redis]
spec:
  blueprint: Component
  operation: day-2
  approval:
    required: true
  parameters:
    - title: Cache
      required: [size]
      properties:
        size: {type: string, enum: [small, large]}
  steps:
    - id: log
      name: Say it
      action: debug:log
      if: ${{ parameters.size === 'large' }}
      input:
        message: Adding a ${{ parameters.size }} cache
  output:
    links:
      - title: Docs
        url: https://example.test/docs
"""

BACKSTAGE_TEMPLATE = """
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: react-app
  title: React app
  annotations:
    portico.dev/blueprint: Website
spec:
  owner: web-team
  type: website
  parameters:
    required: [name]
    properties:
      name: {type: string}
  steps:
    - action: fetch:template
      input:
        url: ./skeleton
    - id: log
      action: debug:log
"""


def test_a_portico_action_parses_into_one_definition():
    definition = parse_definition(load_yaml_documents(PORTICO_ACTION)[0])

    assert isinstance(definition, ActionDefinition)
    assert definition.identifier == "add-cache"
    assert definition.title == "Add a Redis cache"
    assert definition.blueprint == "Component"
    assert definition.operation == "day-2"
    assert definition.approval_required is True
    assert definition.tags == ["redis"]
    assert definition.source_kind == "portico"
    assert definition.parameters[0]["required"] == ["size"]
    step = definition.steps[0]
    assert (step.id, step.name, step.action) == ("log", "Say it", "debug:log")
    assert step.if_ == "${{ parameters.size === 'large' }}"
    assert step.input == {"message": "Adding a ${{ parameters.size }} cache"}
    assert definition.output["links"][0]["title"] == "Docs"


def test_a_backstage_template_creates_a_component_unless_annotated():
    definition = parse_definition(load_yaml_documents(BACKSTAGE_TEMPLATE)[0])

    assert definition.source_kind == "backstage"
    assert definition.blueprint == "Website"
    assert definition.operation == "create"
    assert definition.approval_required is False
    assert definition.parameters == [{"required": ["name"], "properties": {"name": {"type": "string"}}}]
    assert [step.id for step in definition.steps] == ["step-1", "log"]
    assert definition.steps[0].name == "step-1"
    assert definition.steps[1].input == {}


def test_definitions_are_frozen():
    definition = parse_definition(load_yaml_documents(BACKSTAGE_TEMPLATE)[0])

    with pytest.raises(AttributeError):
        definition.title = "changed"


@pytest.mark.parametrize(
    ("api_version", "named"),
    [
        ("backstage.io/v1beta2", "backstage.io/v1beta2 (handlebars)"),
        ("backstage.io/v1alpha1", "backstage.io/v1alpha1 (cookiecutter)"),
    ],
)
def test_old_backstage_templates_are_rejected_with_the_migration_message(api_version, named):
    data = {"apiVersion": api_version, "kind": "Template", "metadata": {"name": "old"}, "spec": {}}

    with pytest.raises(DefinitionError) as caught:
        parse_definition(data)

    assert str(caught.value) == (
        f"template 'old' uses {named} templates, which Portico does not run; migrate to scaffolder.backstage.io/v1beta3"
    )


def test_something_that_is_not_an_action_says_what_it_is():
    with pytest.raises(DefinitionError, match="apiVersion 'backstage.io/v1alpha1' kind 'Location' is not an action"):
        parse_definition({"apiVersion": "backstage.io/v1alpha1", "kind": "Location", "metadata": {"name": "x"}})
    with pytest.raises(DefinitionError, match="is a mapping"):
        parse_definition(["not", "a", "mapping"])


def test_every_problem_is_reported_at_once():
    data = load_yaml_documents(PORTICO_ACTION)[0]
    data["metadata"]["name"] = "Bad Name!"
    data["spec"]["operation"] = "update"
    del data["spec"]["blueprint"]
    data["spec"]["parameters"][0]["properties"]["size"]["type"] = "strin"
    data["spec"]["steps"].append({"id": "log", "action": ""})

    with pytest.raises(DefinitionError) as caught:
        parse_definition(data)

    problems = caught.value.problems
    assert any("metadata.name 'Bad Name!'" in problem for problem in problems)
    assert any("spec.operation 'update' must be one of create, day-2, delete" in problem for problem in problems)
    assert any("spec.blueprint is required" in problem for problem in problems)
    assert any("page 1 (Cache): not a valid JSON Schema at properties/size/type" in problem for problem in problems)
    assert any("step 'log': another step already has this id" in problem for problem in problems)
    assert any("action is required" in problem for problem in problems)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"id": "a", "action": "debug:log", "parameters": {"message": "x"}}, "under 'input' in v1beta3"),
        ({"id": "a", "action": "debug:log", "each": ["x"]}, "uses 'each'"),
        ({"id": "a b", "action": "debug:log"}, "id must be letters"),
        ({"id": "a", "action": "debug:log", "input": ["x"]}, "input must be a mapping"),
        ({"id": "a", "action": "debug:log", "if": ["x"]}, "if must be true, false or a"),
        ("fetch:template", "step 1 must be a mapping"),
    ],
)
def test_bad_steps_are_named(step, message):
    data = load_yaml_documents(BACKSTAGE_TEMPLATE)[0]
    data["spec"]["steps"] = [step]

    with pytest.raises(DefinitionError, match=message):
        parse_definition(data)


def test_backstage_templates_need_a_type():
    data = load_yaml_documents(BACKSTAGE_TEMPLATE)[0]
    del data["spec"]["type"]

    with pytest.raises(DefinitionError, match="spec.type is required"):
        parse_definition(data)


def test_yaml_alias_bombs_are_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"

    with pytest.raises(DefinitionError, match="aliases are expanded"):
        load_yaml_documents(bomb)


def test_huge_files_and_unsafe_tags_are_refused():
    with pytest.raises(DefinitionError, match="at most"):
        load_yaml_documents("a: " + "x" * 1_000_001)
    with pytest.raises(DefinitionError, match="not valid YAML"):
        load_yaml_documents("a: !!python/object/apply:os.system ['true']")


def test_dates_stay_strings():
    assert load_yaml_documents("when: 2025-01-31\n") == [{"when": "2025-01-31"}]


def test_a_definition_file_holds_exactly_one_document(tmp_path):
    path = tmp_path / "action.yaml"
    path.write_text(PORTICO_ACTION + "\n---\n" + PORTICO_ACTION)

    with pytest.raises(DefinitionError, match="holds 2 documents"):
        load_definition_file(path)

    path.write_text(PORTICO_ACTION)
    assert load_definition_file(path).identifier == "add-cache"


def test_the_shipped_golden_paths_load():
    shipped = {path.definition.identifier: path for path in golden_paths()}

    assert set(shipped) == {
        "python-service",
        "add-postgres-database",
        "create-team-namespace",
        "scale-service",
        "deprecate-service",
        "delete-service",
    }
    assert shipped["python-service"].definition.operation == "create"
    assert shipped["delete-service"].definition.operation == "delete"
    assert shipped["delete-service"].definition.approval_required is True
    assert shipped["create-team-namespace"].definition.blueprint == "Group"
    assert (shipped["python-service"].directory / "skeleton").is_dir()
