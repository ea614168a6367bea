"""Backstage's own example catalog ingests without edits, keeping every field; the invalid example is refused."""

import pytest
import yaml

from catalog.ingestion import location_refresh
from catalog.locations import location_register
from catalog.models import Entity
from tests.catalog.conftest import EXAMPLES

pytestmark = pytest.mark.django_db

ENTITY_FILES = sorted(
    path
    for path in EXAMPLES.rglob("*.yaml")
    if path.name not in ("invalid-component.yaml", "petstore-webhook.oas.yaml")
)


@pytest.fixture
def ingested():
    """The whole examples folder, ingested as `catalog_import examples/` would."""
    location = location_register(actor=None, type="path", target=str(EXAMPLES))
    return location_refresh(location=location)


def test_only_the_invalid_example_fails(ingested):
    errors = [result for result in ingested.results if result.failed]

    assert [error.file for error in errors] == ["components/invalid-component.yaml"]
    assert 'metadata.name "invalid component" is not valid' in errors[0].message
    assert 'metadata.tags[1] "go 1.15.3" is not valid' in errors[0].message


def test_every_document_of_every_file_is_kept_with_every_field(ingested):
    mismatches = []
    for path in ENTITY_FILES:
        for document in yaml.safe_load_all(path.read_text()):
            if not document:
                continue
            namespace = document["metadata"].get("namespace", "default")
            ref = f"{document['kind']}:{namespace}/{document['metadata']['name']}".lower()
            entity = Entity.objects.filter(ref=ref).first()
            if entity is None:
                mismatches.append(f"{path.name}: {ref} missing")
                continue
            if entity.descriptor["metadata"] != document["metadata"]:
                mismatches.append(f"{path.name}: {ref} metadata differs")
            for key, value in (document.get("spec") or {}).items():
                stored = entity.descriptor["spec"].get(key)
                if isinstance(value, dict) and value.get("$text", "").startswith("./"):
                    # A relative placeholder is read from the same location and inlined.
                    if stored != (path.parent / value["$text"]).read_text():
                        mismatches.append(f"{path.name}: {ref} spec.{key} was not read from {value['$text']}")
                elif isinstance(value, dict) and {"$text", "$json", "$yaml"} & set(value):
                    # Placeholders that point at the internet are kept as they are, with a warning naming the field.
                    if stored != value or not any(f"spec.{key}" in warning for warning in entity.warnings):
                        mismatches.append(f"{path.name}: {ref} spec.{key} placeholder not kept with a warning")
                elif stored != value:
                    mismatches.append(f"{path.name}: {ref} spec.{key} differs")

    assert len(ENTITY_FILES) > 50
    assert not mismatches, "\n".join(mismatches)


def test_relations_between_the_examples_resolve(ingested):
    artist_lookup = Entity.objects.get(ref="component:default/artist-lookup")

    owners = {relation.target.ref for relation in artist_lookup.relations_out.filter(type="ownedBy")}

    assert owners == {"group:default/team-a"}
