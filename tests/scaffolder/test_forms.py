import pytest

from scaffolder.form_fields import coerce_form_data, form_fields
from scaffolder.forms import (
    VisibleWhen,
    clean_inputs,
    declared_fields,
    explain_pattern,
    merged_schema,
    page_errors,
    page_visible,
    split_secrets,
    validate_inputs,
)

SERVICE_PAGE = {
    "title": "Service",
    "required": ["name", "owner"],
    "properties": {
        "name": {
            "title": "Name",
            "type": "string",
            "pattern": "^[a-z][a-z0-9-]+$",
            "maxLength": 20,
            "ui:autofocus": True,
            "ui:help": "Lowercase, with dashes",
        },
        "owner": {
            "title": "Owner",
            "type": "string",
            "ui:field": "OwnerPicker",
            "ui:options": {"allowedKinds": ["Group"], "onlyMyTeams": True},
        },
        "language": {
            "title": "Language",
            "type": "string",
            "enum": ["py", "go"],
            "enumNames": ["Python", "Go"],
            "default": "py",
        },
        "port": {"title": "Port", "type": "integer", "minimum": 1024, "maximum": 65535, "default": 8000},
        "notes": {"type": "string", "ui:widget": "textarea", "ui:options": {"rows": 4}},
        "contact": {"type": "string", "format": "email"},
    },
}

DATABASE_PAGE = {
    "title": "Database",
    "properties": {"useDatabase": {"title": "Use a database", "type": "boolean", "default": False}},
    "dependencies": {
        "useDatabase": {
            "oneOf": [
                {
                    "properties": {
                        "useDatabase": {"const": True},
                        "databaseName": {"title": "Database name", "type": "string", "minLength": 3},
                    },
                    "required": ["databaseName"],
                },
                {"properties": {"useDatabase": {"const": False}}},
            ]
        }
    },
}

GO_PAGE = {
    "title": "Go settings",
    "if": "${{ parameters.language === 'go' }}",
    "required": ["goVersion"],
    "properties": {"goVersion": {"type": "string", "enum": ["1.22", "1.23"]}},
}

PARAMETERS = [SERVICE_PAGE, DATABASE_PAGE, GO_PAGE]


def test_a_good_submission_gets_defaults_and_loses_unknown_fields():
    cleaned = clean_inputs(PARAMETERS, {"name": "payments", "owner": "group:default/team-a", "isAdmin": True})

    assert cleaned.errors == {}
    assert cleaned.values == {
        "name": "payments",
        "owner": "group:default/team-a",
        "language": "py",
        "port": 8000,
        "useDatabase": False,
    }


def test_errors_are_keyed_by_field_and_readable_by_a_person():
    errors = validate_inputs(PARAMETERS, {"name": "Payments_API", "port": 80, "contact": "nobody", "language": "rust"})

    assert errors == {
        "name": ["Must match ^[a-z][a-z0-9-]+$ (lowercase letters, digits and dashes)"],
        "owner": ["This field is required."],
        "port": ["Must be at least 1024."],
        "contact": ["Must be an email address."],
        "language": ["Must be one of: Python, Go."],
    }


def test_wrong_types_are_said_in_words():
    errors = validate_inputs(PARAMETERS, {"name": "a" * 30, "owner": "x", "port": "eighty"})

    assert errors == {"name": ["Must be at most 20 characters long."], "port": ["Must be a whole number."]}


def test_conditional_fields_are_required_only_when_their_condition_holds():
    base = {"name": "payments", "owner": "x"}

    assert validate_inputs(PARAMETERS, base | {"useDatabase": True}) == {"databaseName": ["This field is required."]}
    assert validate_inputs(PARAMETERS, base | {"useDatabase": True, "databaseName": "ab"}) == {
        "databaseName": ["Must be at least 3 characters long."]
    }
    assert clean_inputs(PARAMETERS, base | {"useDatabase": True, "databaseName": "orders"}).values["databaseName"] == (
        "orders"
    )


def test_a_page_shown_by_an_expression_applies_only_when_shown():
    base = {"name": "payments", "owner": "x"}

    assert validate_inputs(PARAMETERS, base | {"language": "go"}) == {"goVersion": ["This field is required."]}
    hidden = clean_inputs(PARAMETERS, base | {"language": "py", "goVersion": "1.23"})
    assert hidden.errors == {}
    assert "goVersion" not in hidden.values
    assert page_visible(GO_PAGE, {"language": "go"}) is True
    assert page_visible(GO_PAGE, {}) is False


def test_nested_objects_get_defaults_lose_unknown_fields_and_report_dotted_paths():
    page = {
        "properties": {
            "advanced": {
                "type": "object",
                "required": ["replicas"],
                "properties": {"replicas": {"type": "integer"}, "memory": {"type": "string", "default": "256Mi"}},
            }
        }
    }

    cleaned = clean_inputs([page], {"advanced": {"replicas": "two", "sneaky": 1}})

    assert cleaned.values == {"advanced": {"replicas": "two", "memory": "256Mi"}}
    assert cleaned.errors == {"advanced.replicas": ["Must be a whole number."]}


def test_page_errors_checks_one_page():
    assert page_errors(SERVICE_PAGE, {"name": "ok-name"}) == {"owner": ["This field is required."]}
    assert page_errors(DATABASE_PAGE, {"useDatabase": True}) == {"databaseName": ["This field is required."]}


def test_entity_names_from_the_name_picker_are_checked_server_side():
    page = {"properties": {"component": {"type": "string", "ui:field": "EntityNamePicker"}}}

    assert validate_inputs([page], {"component": "has space"}) == {
        "component": ["Must be 1-63 letters or digits, separated by single - _ or . characters."]
    }
    assert validate_inputs([page], {"component": "fine.name-1"}) == {}


def test_repository_locations_must_be_on_an_allowed_host_and_owner():
    page = {
        "properties": {
            "repoUrl": {
                "type": "string",
                "ui:field": "RepoUrlPicker",
                "ui:options": {"allowedHosts": ["github.com"], "allowedOwners": ["acme"]},
            }
        }
    }

    assert validate_inputs([page], {"repoUrl": "github.com?owner=acme&repo=svc"}) == {}
    assert validate_inputs([page], {"repoUrl": "evil.test?owner=acme&repo=svc"}) == {
        "repoUrl": ["Must be a repository on github.com."]
    }
    assert validate_inputs([page], {"repoUrl": "github.com?owner=other&repo=svc"}) == {
        "repoUrl": ["Must be a repository owned by acme."]
    }
    assert validate_inputs([page], {"repoUrl": "github.com?owner=acme"}) == {
        "repoUrl": ["Must be a repository location like github.com?owner=acme&repo=payments."]
    }


def test_a_declared_2020_12_schema_is_read_as_2020_12():
    page = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "dependentRequired": {"a": ["b"]},
    }

    assert validate_inputs([page], {"a": "x"}) == {"b": ["This field is required when a is set."]}


def test_merged_schema_keeps_ui_hints_and_conditions():
    schema = merged_schema(PARAMETERS)

    assert schema["type"] == "object"
    assert list(schema["properties"]) == [*SERVICE_PAGE["properties"], "useDatabase", "goVersion"]
    assert schema["properties"]["owner"]["ui:field"] == "OwnerPicker"
    assert schema["required"] == ["name", "owner"]
    assert schema["allOf"] == [{"dependencies": DATABASE_PAGE["dependencies"]}]
    assert [page["title"] for page in schema["x-pages"]] == ["Service", "Database", "Go settings"]
    assert schema["x-pages"][2]["if"] == GO_PAGE["if"]
    assert schema["x-pages"][2]["required"] == ["goVersion"]


def test_declared_fields_include_conditional_ones():
    assert {"databaseName", "goVersion", "name"} <= declared_fields(PARAMETERS)


def test_form_fields_describe_each_widget():
    fields = {field.name: field for field in form_fields(SERVICE_PAGE, {"name": "Bad"}, {"name": ["Must match"]})}

    name = fields["name"]
    assert (name.label, name.help, name.widget, name.required, name.value) == (
        "Name",
        "Lowercase, with dashes",
        "text",
        True,
        "Bad",
    )
    assert name.errors == ["Must match"]
    assert name.attrs == {"pattern": "^[a-z][a-z0-9-]+$", "maxlength": 20, "autofocus": True}
    assert fields["owner"].widget == "entity-picker"
    assert fields["owner"].entity_picker["kinds"] == ["Group"]
    assert fields["owner"].entity_picker["only_my_teams"] is True
    assert fields["language"].widget == "select"
    assert fields["language"].choices == [("py", "Python"), ("go", "Go")]
    assert fields["language"].value == "py"
    assert fields["port"].widget == "number"
    assert fields["port"].attrs == {"min": 1024, "max": 65535, "step": 1}
    assert fields["notes"].widget == "textarea"
    assert fields["notes"].attrs == {"rows": 4}
    assert fields["notes"].label == "Notes"
    assert fields["contact"].attrs == {"type": "email"}


@pytest.mark.parametrize(
    ("schema", "widget"),
    [
        ({"type": "string", "ui:widget": "password"}, "secret"),
        ({"type": "string", "ui:field": "Secret"}, "secret"),
        ({"type": "string", "ui:widget": "hidden"}, "hidden"),
        ({"type": "boolean"}, "checkbox"),
        ({"type": "string", "enum": ["a", "b"], "ui:widget": "radio"}, "radio"),
        ({"type": "array", "items": {"type": "string", "enum": ["x", "y"]}}, "multiselect"),
        ({"type": "array", "items": {"type": "string"}}, "tags"),
        ({"type": "array", "ui:field": "EntityTagsPicker"}, "tags"),
        ({"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}}, "json"),
        ({"type": "string", "ui:field": "RepoUrlPicker", "ui:options": {"allowedHosts": ["github.com"]}}, "repo-url"),
        ({"type": "string", "ui:field": "OwnedEntityPicker"}, "entity-picker"),
    ],
)
def test_ui_hints_pick_the_widget(schema, widget):
    (field,) = form_fields({"properties": {"f": schema}})

    assert field.widget == widget


def test_entity_pickers_read_backstage_options():
    page = {
        "properties": {
            "system": {
                "type": "string",
                "ui:field": "EntityPicker",
                "ui:options": {"catalogFilter": {"kind": "System"}},
            },
            "mine": {"type": "string", "ui:field": "OwnedEntityPicker", "ui:options": {"allowedKinds": ["Component"]}},
            "groups": {"type": "string", "ui:field": "MyGroupsPicker"},
            "many": {"type": "array", "ui:field": "MultiEntityPicker"},
        }
    }

    pickers = {field.name: field.entity_picker for field in form_fields(page)}

    assert (pickers["system"]["kinds"], pickers["system"]["only_my_teams"]) == (["System"], False)
    assert (pickers["mine"]["kinds"], pickers["mine"]["only_my_teams"]) == (["Component"], True)
    assert (pickers["groups"]["kinds"], pickers["groups"]["only_my_teams"]) == (["Group"], True)
    assert pickers["many"]["multiple"] is True


def test_secret_values_are_never_sent_back_to_the_browser():
    (field,) = form_fields({"properties": {"token": {"type": "string", "ui:field": "Secret"}}}, {"token": "s3cr3t"})

    assert field.value is None


def test_conditional_fields_say_when_they_are_visible():
    shown = {field.name: field for field in form_fields(DATABASE_PAGE, {"useDatabase": True})}
    hidden = {field.name: field for field in form_fields(DATABASE_PAGE, {"useDatabase": False})}

    assert list(shown) == ["useDatabase", "databaseName"]
    assert shown["databaseName"].visible_when == VisibleWhen("useDatabase", (True,))
    assert shown["databaseName"].visible is True
    assert shown["databaseName"].required is True
    assert hidden["databaseName"].visible is False


def test_if_then_else_fields_are_visible_by_the_if():
    page = {
        "properties": {"kind": {"type": "string", "enum": ["web", "worker"]}},
        "if": {"properties": {"kind": {"const": "web"}}},
        "then": {"properties": {"port": {"type": "integer"}}, "required": ["port"]},
        "else": {"properties": {"queue": {"type": "string"}}},
    }

    fields = {field.name: field for field in form_fields(page, {"kind": "worker"})}

    assert fields["port"].visible is False
    assert fields["queue"].visible is True
    assert validate_inputs([page], {"kind": "web"}) == {"port": ["This field is required."]}


def test_nested_objects_become_dotted_fields_in_a_fieldset():
    page = {
        "properties": {
            "advanced": {
                "title": "Advanced",
                "type": "object",
                "ui:field": "AccordionField",
                "required": ["replicas"],
                "properties": {"replicas": {"type": "integer"}, "metrics": {"type": "boolean"}},
            }
        }
    }

    fields = form_fields(page, {"advanced": {"replicas": 2}})

    assert [(field.name, field.required, field.value) for field in fields] == [
        ("advanced.replicas", True, 2),
        ("advanced.metrics", False, None),
    ]
    assert fields[0].attrs["fieldset"] == "Advanced"


def test_ui_order_is_respected():
    page = {"ui:order": ["c", "*", "a"], "properties": {"a": {}, "b": {}, "c": {}, "d": {}}}

    assert [field.name for field in form_fields(page)] == ["c", "b", "d", "a"]


def test_an_html_post_is_coerced_to_typed_values():
    page = {
        "properties": {
            "name": {"type": "string"},
            "port": {"type": "integer"},
            "ratio": {"type": "number"},
            "public": {"type": "boolean"},
            "features": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "choice": {"type": "boolean", "oneOf": [{"const": True, "title": "Yes"}, {"const": False, "title": "No"}]},
            "repoUrl": {"type": "string", "ui:field": "RepoUrlPicker"},
            "extra": {"type": "object"},
            "advanced": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
            "empty": {"type": "string"},
        }
    }
    form = {
        "name": ["svc"],
        "port": ["8080"],
        "ratio": ["0.5"],
        "features": ["a", "c"],
        "tags": ["x, y", "z"],
        "choice": ["false"],
        "repoUrl.host": ["github.com"],
        "repoUrl.owner": ["acme"],
        "repoUrl.repo": ["svc"],
        "extra": ['{"k": 1}'],
        "advanced.replicas": ["3"],
        "empty": [""],
    }

    assert coerce_form_data(page, form) == {
        "name": "svc",
        "port": 8080,
        "ratio": 0.5,
        "public": False,
        "features": ["a", "c"],
        "tags": ["x", "y", "z"],
        "choice": False,
        "repoUrl": "github.com?owner=acme&repo=svc",
        "extra": {"k": 1},
        "advanced": {"replicas": 3},
    }


def test_a_number_that_is_not_a_number_stays_text_for_validation_to_name():
    page = {"properties": {"port": {"type": "integer"}}}

    data = coerce_form_data(page, {"port": ["80a"]})

    assert data == {"port": "80a"}
    assert validate_inputs([page], data) == {"port": ["Must be a whole number."]}


def test_secrets_are_split_from_parameters():
    parameters = [{"properties": {"name": {"type": "string"}, "token": {"type": "string", "ui:field": "Secret"}}}]

    assert split_secrets(parameters, {"name": "x", "token": "t"}) == ({"name": "x"}, {"token": "t"})


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("^[a-z][a-z0-9-]+$", "lowercase letters, digits and dashes"),
        ("^[A-Za-z0-9_.]{1,63}$", "uppercase letters, lowercase letters, digits, underscores and dots"),
        ("^[0-9]+$", "digits"),
        ("^(a|b)$", ""),
        ("^[^x]+$", ""),
    ],
)
def test_patterns_are_explained_when_simple(pattern, words):
    assert explain_pattern(pattern) == words
