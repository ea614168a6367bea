"""Backstage's own example catalog and template files load, validate and relate without edits.

The files live in shared/conformance/backstage/ beside the repository (see its README.md).
"""

from pathlib import Path

import pytest

from catalog.descriptors import load_documents, validate_entity
from catalog.placeholders import resolve_placeholders, resolve_target
from catalog.refs import EntityRef
from catalog.relations_spec import relations_for
from tests.helpers import skip_unless_available

BACKSTAGE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "backstage"
EXAMPLES = BACKSTAGE / "packages" / "catalog-model" / "examples"
SAMPLE_TEMPLATES = BACKSTAGE / "plugins" / "scaffolder-backend" / "sample-templates"
RECOVERY_TEMPLATE = BACKSTAGE / "examples" / "test-recovery" / "template.yaml"

WEBHOOK_OAS = "packages/catalog-model/examples/apis/petstore-webhook.oas.yaml"
INVALID_COMPONENT = "packages/catalog-model/examples/components/invalid-component.yaml"
# The catalog-info.yaml of the Azure DevOps demo's skeleton: its names are `${{ values.name }}` until rendered.
UNRENDERED_SKELETON = "plugins/scaffolder-backend/sample-templates/azure-devops-demo/python-sample/catalog-info.yaml"
NOT_ENTITY_FILES = {WEBHOOK_OAS, INVALID_COMPONENT, UNRENDERED_SKELETON}


def _root_of(path: Path) -> Path:
    for root in (EXAMPLES, SAMPLE_TEMPLATES):
        if root in path.parents:
            return root
    return path.parent


def _descriptor_files() -> list[str]:
    if not BACKSTAGE.is_dir():
        return []
    files = sorted(EXAMPLES.rglob("*.yaml"))
    files += [
        path
        for path in sorted(SAMPLE_TEMPLATES.rglob("*.yaml"))
        # Files in skeleton/ and template/ folders are unrendered templates, not valid YAML until rendered.
        if not {"skeleton", "template"} & set(path.relative_to(SAMPLE_TEMPLATES).parts[:-1])
    ]
    files.append(RECOVERY_TEMPLATE)
    return [path.relative_to(BACKSTAGE).as_posix() for path in files]


ENTITY_FILES = [name for name in _descriptor_files() if name not in NOT_ENTITY_FILES]


def load(name: str) -> tuple[Path, str, list]:
    path = BACKSTAGE / name
    root = _root_of(path)
    base = path.relative_to(root).as_posix()
    return root, base, load_documents(path.read_bytes(), source=name)


def read_inside(root: Path, base: str):
    def read_relative(target: str) -> str:
        return (root / resolve_target(base, target)).read_text(encoding="utf-8")

    return read_relative


def test_the_conformance_files_are_present():
    if not BACKSTAGE.is_dir():
        skip_unless_available(f"Backstage conformance files are missing at {BACKSTAGE}")
    assert len(ENTITY_FILES) > 60
    assert RECOVERY_TEMPLATE.relative_to(BACKSTAGE).as_posix() in ENTITY_FILES


@pytest.mark.parametrize("name", ENTITY_FILES)
def test_every_document_loads_validates_and_relates(name):
    root, base, documents = load(name)

    assert documents, "no documents"
    for document in documents:
        assert document.error is None, document.error
        entity, warnings = resolve_placeholders(document.data, read_relative=read_inside(root, base), fetch_url=None)
        # Only remote placeholders may stay unresolved (no internet here); the entity is kept regardless.
        assert all("could not read https://" in warning for warning in warnings), warnings
        assert validate_entity(entity) == [], f"document {document.index + 1} at line {document.line}"
        relations = relations_for(entity)
        assert all(isinstance(relation, str) and isinstance(target, EntityRef) for relation, target in relations)


@pytest.mark.parametrize(
    "name", [n for n in ENTITY_FILES if "\nkind: Location" in (BACKSTAGE / n).read_text(encoding="utf-8")]
)
def test_location_targets_resolve_inside_their_folder(name):
    root, base, documents = load(name)
    targets = [
        target
        for document in documents
        if document.data["kind"] == "Location"
        for target in document.data["spec"].get("targets", []) + [document.data["spec"].get("target")]
        if target
    ]

    assert targets
    for target in targets:
        resolved = resolve_target(base, target)
        if target.startswith("https://"):
            assert resolved == target
        else:
            assert (root / resolved).resolve().is_relative_to(root.resolve()), target


def test_the_invalid_component_is_rejected_naming_the_bad_name_and_tag():
    _, _, documents = load(INVALID_COMPONENT)

    errors = validate_entity(documents[0].data)

    assert any("metadata.name" in error and '"invalid component"' in error for error in errors)
    assert any("metadata.tags[1]" in error and '"go 1.15.3"' in error for error in errors)
    assert len(errors) == 2


def test_the_webhook_openapi_file_is_placeholder_content_not_an_entity():
    root, base, documents = load("packages/catalog-model/examples/apis/petstore-webhook-api.yaml")

    entity, warnings = resolve_placeholders(documents[0].data, read_relative=read_inside(root, base), fetch_url=None)

    assert warnings == []
    assert entity["spec"]["definition"] == (BACKSTAGE / WEBHOOK_OAS).read_text(encoding="utf-8")
    assert validate_entity(load(WEBHOOK_OAS)[2][0].data)[-3:] == [
        "apiVersion is required",
        "kind is required",
        "metadata is required",
    ]


@pytest.mark.parametrize(
    "name",
    [
        "packages/catalog-model/examples/apis/config-schema-api.yaml",
        "packages/catalog-model/examples/apis/spotify-api.yaml",
        "packages/catalog-model/examples/apis/wayback-archive-api.yaml",
    ],
)
def test_remote_placeholders_warn_and_keep_the_entity(name):
    root, base, documents = load(name)
    placeholder = documents[0].data["spec"]["definition"]

    entity, warnings = resolve_placeholders(documents[0].data, read_relative=read_inside(root, base), fetch_url=None)

    assert entity["spec"]["definition"] == placeholder
    assert warnings == [f"spec.definition: could not read {placeholder['$text']}: reading remote URLs is not enabled"]
    assert validate_entity(entity) == []


def test_the_unrendered_skeleton_catalog_file_is_rejected_on_its_template_names():
    _, _, documents = load(UNRENDERED_SKELETON)

    assert len(documents) == 4
    for document in documents:
        assert document.error is None
        errors = validate_entity(document.data)
        assert len(errors) == 1
        assert errors[0].startswith('metadata.name "${{ values.name }}')


def test_relations_of_examples_match_backstage():
    _, _, [component] = load("packages/catalog-model/examples/components/different-namespace.yaml")
    _, _, users = load("packages/catalog-model/examples/acme/team-a-group.yaml")
    development_guest = next(u.data for u in users if u.data["metadata"].get("namespace") == "development")

    assert [(r, str(t)) for r, t in relations_for(component.data)] == [("ownedBy", "group:default/team-a")]
    assert [(r, str(t)) for r, t in relations_for(development_guest)] == [("memberOf", "group:default/team-a")]
