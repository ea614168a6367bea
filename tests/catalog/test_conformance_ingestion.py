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


@pytest.fixture(scope="module")
def ingested(django_db_setup, django_db_blocker):
    """Ingest the whole examples folder once, as `catalog_import examples/` would."""
    with django_db_blocker.unblock():
        location = location_register(actor=None, type="path", target=str(EXAMPLES))
        report = location_refresh(location=location)
        yield report
        Entity.objects.all().delete()
        location.delete()


def test_only_the_invalid_example_fails(ingested):
    errors = [result for result in ingested.results if result.failed]

    assert [error.file for error in errors] == ["components/invalid-component.yaml"]
    assert 'metadata.name "invalid component" is not valid' in errors[0].message
    assert 'metadata.tags[1] "go 1.15.3" is not valid' in errors[0].message


@pytest.mark.parametrize("path", ENTITY_FILES, ids=lambda path: str(path.relative_to(EXAMPLES)))
def test_every_document_is_kept_with_every_field(ingested, path):
    for document in yaml.safe_load_all(path.read_text()):
        if not document:
            continue
        namespace = document["metadata"].get("namespace", "default")
        ref = f"{document['kind']}:{namespace}/{document['metadata']['name']}".lower()
        entity = Entity.objects.get(ref=ref)
        stored = entity.descriptor
        assert stored["metadata"] == document["metadata"]
        for key, value in (document.get("spec") or {}).items():
            if isinstance(value, dict) and {"$text", "$json", "$yaml"} & set(value):
                # Placeholders that point at the internet are kept as they are, with a warning.
                assert stored["spec"][key] in (value, entity.properties[key])
                assert any(key in warning for warning in entity.warnings) or isinstance(stored["spec"][key], str)
            else:
                assert stored["spec"][key] == value, f"{ref} spec.{key}"


def test_relations_between_the_examples_resolve(ingested):
    artist_lookup = Entity.objects.get(ref="component:default/artist-lookup")

    owners = {relation.target.ref for relation in artist_lookup.relations_out.filter(type="ownedBy")}

    assert owners == {"group:default/team-a"}
