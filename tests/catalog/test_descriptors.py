import time
import tracemalloc

import pytest

from catalog.descriptors import content_hash, load_documents, validate_entity

COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: petstore
spec:
  type: service
  lifecycle: production
  owner: team-a
"""

LOL_BOMB = 'lol0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"lol{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10)
)


def component(**overrides):
    data = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "petstore"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }
    data.update(overrides)
    return data


def only_error(documents):
    assert len(documents) == 1
    assert documents[0].data is None
    return documents[0].error


# Loading


def test_a_multi_document_file_gives_one_document_each_with_its_start_line():
    content = COMPONENT + "---\n" + COMPONENT.replace("petstore", "shop") + "---\n"

    documents = load_documents(content, source="repo/catalog-info.yaml")

    assert [d.index for d in documents] == [0, 1]
    assert [d.line for d in documents] == [1, 10]
    assert [d.data["metadata"]["name"] for d in documents] == ["petstore", "shop"]
    assert all(d.error is None and d.source == "repo/catalog-info.yaml" for d in documents)


def test_empty_documents_and_comment_only_files_are_skipped_silently():
    assert load_documents("", source="x") == []
    assert load_documents("# nothing here\n", source="x") == []
    assert len(load_documents("---\n" + COMPONENT + "---\n---\n", source="x")) == 1


def test_bytes_with_a_byte_order_mark_load_like_text():
    documents = load_documents(b"\xef\xbb\xbf" + COMPONENT.encode(), source="x")

    assert documents[0].data["kind"] == "Component"


def test_a_file_over_the_size_limit_is_refused_with_both_sizes():
    content = b"#" * int(3.2 * 1024 * 1024)

    error = only_error(load_documents(content, source="x"))

    assert error == "file is 3.2 MB, the limit is 1 MB"


def test_text_is_measured_in_utf8_bytes():
    error = only_error(load_documents("é" * 600, source="x", max_bytes=1000))

    assert error == "file is 1.2 KB, the limit is 1000 bytes"


def test_a_file_that_is_not_utf8_is_refused():
    error = only_error(load_documents(b"name: caf\xe9\n", source="x"))

    assert "not UTF-8" in error


def test_a_syntax_error_names_line_and_column_and_does_not_hide_other_documents():
    content = COMPONENT + "---\nkind: [unclosed\nname: x\n---\n" + COMPONENT

    documents = load_documents(content, source="x")

    assert [d.error is None for d in documents] == [True, False, True]
    assert documents[1].error.startswith("document 2: YAML syntax error at line 11")
    assert "column" in documents[1].error
    assert documents[2].data["metadata"]["name"] == "petstore"


@pytest.mark.parametrize(
    "value",
    [
        "!!python/object:os.system x",
        "!!python/object/apply:os.system ['echo hi']",
        "!!python/name:os.system",
        "!Ref MyBucket",
        "!!binary aGk=",
        "!!timestamp 2021-01-01",
        "!!set {a: null}",
        "!custom {a: 1}",
    ],
)
def test_unsafe_and_custom_tags_are_refused(value):
    error = only_error(load_documents(f"apiVersion: v1\nkind: X\nvalue: {value}\n", source="x"))

    assert "is not allowed" in error
    assert "line 3" in error


def test_the_billion_laughs_bomb_fails_fast_and_small():
    tracemalloc.start()
    started = time.perf_counter()
    try:
        error = only_error(load_documents(LOL_BOMB, source="x"))
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert "alias bomb" in error
    assert elapsed < 1.0
    assert peak < 20 * 1024 * 1024


def test_a_bomb_document_does_not_hide_the_good_ones():
    documents = load_documents(COMPONENT + "---\n" + LOL_BOMB + "---\n" + COMPONENT, source="x")

    assert [d.error is None for d in documents] == [True, False, True]


def test_merge_bombs_are_counted_like_aliases():
    levels = ["m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9}"]
    for i in range(1, 9):
        merged = ", ".join(f"k{j}: *m{i - 1}" for j in range(10))
        levels.append(f"m{i}: &m{i} {{<<: *m{i - 1}, {merged}}}")

    error = only_error(load_documents("\n".join(levels) + "\n", source="x"))

    assert "alias bomb" in error


@pytest.mark.parametrize(
    "content", ["[" * 5000 + "]" * 5000, "a:\n" + "".join("  " * i + "a:\n" for i in range(1, 80))]
)
def test_deep_nesting_is_refused(content):
    error = only_error(load_documents(content, source="x"))

    assert "nested more than 64 levels" in error


def test_recursive_aliases_are_refused():
    error = only_error(load_documents("a: &x [1, *x]\n", source="x"))

    assert "no anchor" in error


@pytest.mark.parametrize(
    ("content", "kind"),
    [("- a\n- b\n", "a list"), ("just text\n", "a string"), ("42\n", "a number"), ("true\n", "a boolean")],
)
def test_documents_that_are_not_mappings_are_refused_with_their_position(content, kind):
    documents = load_documents(COMPONENT + "---\n" + content, source="x")

    assert documents[0].error is None
    assert documents[1].error == f"document 2 is {kind}, expected a mapping with apiVersion, kind, metadata"


def test_plain_values_follow_the_yaml_1_2_core_schema_like_backstage():
    content = "a: yes\nb: on\nc: 2021-01-01\nd: 010\ne: 0o17\nf: 0x1F\ng: 1.5\nh: ~\ni: True\nj: '12'\nk: 1_000\n"

    data = load_documents(content, source="x")[0].data

    assert data == {
        "a": "yes",
        "b": "on",
        "c": "2021-01-01",
        "d": 10,
        "e": 15,
        "f": 31,
        "g": 1.5,
        "h": None,
        "i": True,
        "j": "12",
        "k": "1_000",
    }


@pytest.mark.parametrize("value", [".inf", "-.Inf", ".nan", "1e999"])
def test_values_json_cannot_hold_are_refused(value):
    error = only_error(load_documents(f"a: {value}\n", source="x"))

    assert value in error


def test_duplicate_keys_are_refused():
    error = only_error(load_documents("a: 1\nb: 2\na: 3\n", source="x"))

    assert 'duplicate key "a"' in error


def test_collection_keys_are_refused():
    error = only_error(load_documents("? [a, b]\n: 1\n", source="x"))

    assert "mapping keys must be plain values" in error


def test_merge_keys_and_aliases_give_independent_plain_values():
    content = "base: &base {owner: team-a, type: service}\nspec:\n  <<: *base\n  type: website\nother: *base\n"

    data = load_documents(content, source="x")[0].data
    data["other"]["owner"] = "changed"

    assert data["spec"] == {"owner": "team-a", "type": "website"}
    assert data["base"]["owner"] == "team-a"


def test_documents_past_the_limit_are_refused():
    documents = load_documents((COMPONENT + "---\n") * 4, source="x", max_documents=3)

    assert [d.error is None for d in documents] == [True, True, True, False]
    assert documents[3].error == "file has more than 3 documents, the limit is 3"


def test_control_characters_are_refused():
    error = only_error(load_documents("a: b\x07c\n", source="x"))

    assert "YAML" in error


# Validation


def test_a_valid_component_has_no_errors():
    assert validate_entity(component()) == []


@pytest.mark.parametrize(
    "name", ["a", "a-b_c.d", "A1", "a--b", "x" * 63, "wayback-archive-ingestion", "breanna.davison"]
)
def test_valid_names(name):
    assert validate_entity(component(metadata={"name": name})) == []


@pytest.mark.parametrize("name", ["invalid component", "-a", "a-", "a/b", "x" * 64, "", "ümlaut", 12, None])
def test_invalid_names_are_named_in_the_message(name):
    errors = validate_entity(component(metadata={"name": name}))

    assert len(errors) == 1
    assert errors[0].startswith("metadata.name")


@pytest.mark.parametrize(
    ("namespace", "valid"), [("default", True), ("team-a2", True), ("Team", False), ("a_b", False)]
)
def test_namespaces_are_dns_labels(namespace, valid):
    errors = validate_entity(component(metadata={"name": "x", "namespace": namespace}))

    assert (errors == []) is valid
    assert valid or "metadata.namespace" in errors[0]


@pytest.mark.parametrize(("tag", "valid"), [("java", True), ("c++", True), ("a:b#c", True), ("go-1", True)])
def test_valid_tags(tag, valid):
    assert (validate_entity(component(metadata={"name": "x", "tags": [tag]})) == []) is valid


@pytest.mark.parametrize("tag", ["go 1.15.3", "Java", "a--b", "-a", "x" * 64, "", 5])
def test_invalid_tags_are_named_with_their_position(tag):
    errors = validate_entity(component(metadata={"name": "x", "tags": ["ok", tag]}))

    assert len(errors) == 1
    assert errors[0].startswith("metadata.tags[1]")


def test_labels_and_annotations_follow_kubernetes_key_rules():
    metadata = {
        "name": "x",
        "labels": {"backstage.io/custom": "Value", "empty": "", "bad value": "x", "goVersion": "go 1"},
        "annotations": {"github.com/project-slug": "o/r", "example.com/bad/key": "x", "n": 3},
    }

    errors = validate_entity(component(metadata=metadata))

    assert len(errors) == 4
    assert any('labels key "bad value"' in e for e in errors)
    assert any("labels.goVersion value" in e for e in errors)
    assert any('annotations key "example.com/bad/key"' in e for e in errors)
    assert any("annotations.n must be a string" in e for e in errors)


def test_links_need_a_url_and_well_formed_fields():
    links = [
        {"url": "https://example.com", "title": "Site", "icon": "dashboard", "type": "docs"},
        {"title": "no url"},
        {"url": "not a url"},
        {"url": "https://example.com", "icon": "bad icon!"},
        "https://example.com",
    ]

    errors = validate_entity(component(metadata={"name": "x", "links": links}))

    assert errors == [
        "metadata.links[1].url is required",
        'metadata.links[2].url "not a url" is not a valid URL',
        'metadata.links[3].icon "bad icon!" is not valid; expected a short name such as dashboard',
        "metadata.links[4] must be a mapping with a url, not a string",
    ]


def test_envelope_errors_name_the_field():
    errors = validate_entity({"apiVersion": "no spaces/v1 x", "kind": "1Bad", "metadata": "x", "extra": 1})

    assert any(e.startswith('"extra" is not a known top-level field') for e in errors)
    assert any(e.startswith("apiVersion") for e in errors)
    assert any(e.startswith("kind") for e in errors)
    assert "metadata must be a mapping, not a string" in errors


def test_missing_envelope_fields_are_reported():
    assert validate_entity({}) == ["apiVersion is required", "kind is required", "metadata is required"]


def test_title_and_description_must_be_strings():
    errors = validate_entity(component(metadata={"name": "x", "title": 1, "description": ["a"]}))

    assert errors == [
        "metadata.title must be a string, not a number",
        "metadata.description must be a string, not a list",
    ]


def test_component_spec_requirements():
    errors = validate_entity(component(spec={"type": "service", "owner": "", "providesApis": "petstore"}))

    assert errors == [
        "spec.lifecycle is required",
        "spec.owner must be a non-empty string",
        "spec.providesApis must be a list of strings",
    ]
    assert validate_entity(component(spec=None)) == ["spec is required for kind Component"]
    assert validate_entity(component(spec=[1])) == ["spec must be a mapping, not a list"]


def test_api_needs_a_definition_which_may_be_an_unresolved_placeholder():
    spec = {"type": "openapi", "lifecycle": "production", "owner": "team-a"}
    api = {"apiVersion": "backstage.io/v1alpha1", "kind": "API", "metadata": {"name": "x"}}

    assert validate_entity({**api, "spec": spec}) == ["spec.definition is required"]
    assert validate_entity({**api, "spec": {**spec, "definition": {"$text": "https://x/y.yaml"}}}) == []
    assert validate_entity({**api, "spec": {**spec, "definition": {"a": 1}}}) == [
        "spec.definition must be a non-empty string (or a $text placeholder)"
    ]


def test_mcp_server_apis_have_remotes_instead_of_a_definition():
    api = {"apiVersion": "backstage.io/v1alpha1", "kind": "API", "metadata": {"name": "x"}}
    spec = {"type": "mcp-server", "lifecycle": "experimental", "owner": "team-a"}

    assert validate_entity({**api, "spec": spec}) == ["spec.remotes is required (a list of {type, url})"]
    remotes = [{"type": "streamable-http", "url": "http://x/mcp"}]
    assert validate_entity({**api, "spec": {**spec, "remotes": remotes}}) == []


@pytest.mark.parametrize(
    ("kind", "spec", "errors"),
    [
        ("Resource", {"type": "database"}, ["spec.owner is required"]),
        ("System", {}, ["spec.owner is required"]),
        ("Domain", {"owner": "team-a", "subdomainOf": 3}, ["spec.subdomainOf must be a non-empty string"]),
        ("Group", {"type": "team"}, ["spec.children is required (a list, which may be empty)"]),
        (
            "Group",
            {"type": "team", "children": [], "profile": {"email": ""}},
            ["spec.profile.email must be a non-empty string"],
        ),
        ("User", {}, []),
        ("User", {"memberOf": "team-a"}, ["spec.memberOf must be a list of strings"]),
        ("Location", {"type": "url"}, ["spec.target or spec.targets is required"]),
        (
            "Location",
            {"targets": ["./a.yaml"], "presence": "sometimes"},
            ['spec.presence must be "required" or "optional"'],
        ),
    ],
)
def test_builtin_kind_spec_requirements(kind, spec, errors):
    data = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": spec}

    assert validate_entity(data) == errors


def test_template_steps_and_parameters_are_checked_loosely():
    template = {"apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template", "metadata": {"name": "t"}}
    good = {"type": "service", "parameters": [{"properties": {}}], "steps": [{"id": "a", "action": "debug:log"}]}

    assert validate_entity({**template, "spec": good}) == []
    assert validate_entity({**template, "spec": {"type": "service", "steps": [{"id": "a"}], "parameters": "x"}}) == [
        "spec.parameters must be a mapping (a JSON Schema) or a list of them (form pages)",
        "spec.steps[0].action is required (the name of the action to run)",
    ]


def test_custom_kinds_are_valid_when_the_envelope_is():
    environment = {"apiVersion": "backstage.io/v1alpha1", "kind": "Environment", "metadata": {"name": "prod"}}

    assert validate_entity({**environment, "spec": {"anything": [1, 2]}}) == []
    assert validate_entity(environment) == []
    assert validate_entity({**environment, "metadata": {"name": "bad name"}}) != []


def test_builtin_kinds_with_another_api_version_are_custom_kinds():
    data = {"apiVersion": "example.com/v2", "kind": "Component", "metadata": {"name": "x"}, "spec": {}}

    assert validate_entity(data) == []


def test_unparseable_references_in_the_spec_are_reported():
    errors = validate_entity(component(spec={"type": "s", "lifecycle": "l", "owner": "group:", "dependsOn": ["/x"]}))

    assert len(errors) == 2
    assert errors[0].startswith('spec.owner: entity reference "group:"')
    assert errors[1].startswith("spec.dependsOn[0]")


def test_validate_entity_rejects_non_mappings():
    assert validate_entity(["x"]) == ["entity is a list, expected a mapping with apiVersion, kind, metadata"]


# Content hash


def test_content_hash_ignores_key_order_and_changes_with_content():
    first = content_hash({"a": 1, "b": {"c": [1, 2], "d": "é"}})

    assert first == content_hash({"b": {"d": "é", "c": [1, 2]}, "a": 1})
    assert first != content_hash({"a": 1, "b": {"c": [2, 1], "d": "é"}})
    assert len(first) == 64
    assert int(first, 16) >= 0


def test_documents_with_too_many_values_are_refused():
    error = only_error(load_documents("[" + "a," * 2000 + "a]\n", source="x", max_nodes=1000))

    assert error == "document 1: line 1: document has more than 1,000 values"


def test_aliases_cannot_nest_values_deeper_than_the_limit():
    deep = "[" * 40 + "x" + "]" * 40
    content = f"a: &a {deep}\nb: &b {'[' * 30}*a{']' * 30}\nc: {'[' * 30}*b{']' * 30}\n"

    error = only_error(load_documents(content, source="x"))

    assert "nested more than 64 levels" in error


def test_text_with_unpaired_surrogates_is_refused():
    error = only_error(load_documents("a: \udc80\n", source="x"))

    assert "not valid Unicode" in error
