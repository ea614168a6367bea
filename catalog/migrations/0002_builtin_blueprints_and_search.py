from django.db import migrations

from catalog.builtin_blueprints import BUILTIN_BLUEPRINTS

# PostgreSQL full-text search over entities. The expression matches what catalog.selectors queries
# (SearchVector("search_document", config="simple")), so the planner uses the index. SQLite has no such index and
# selectors fall back to a LIKE search there.
CREATE_SEARCH_INDEX = (
    "CREATE INDEX IF NOT EXISTS catalog_entity_search_gin ON catalog_entity "
    "USING GIN (to_tsvector('simple'::regconfig, COALESCE(search_document, '')))"
)


def create_builtin_blueprints(apps, schema_editor):
    blueprint_model = apps.get_model("catalog", "Blueprint")
    for definition in BUILTIN_BLUEPRINTS:
        blueprint_model.objects.update_or_create(
            identifier=definition["identifier"], defaults={**definition, "builtin": True}
        )


def create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_SEARCH_INDEX)


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS catalog_entity_search_gin")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [
        migrations.RunPython(create_builtin_blueprints, migrations.RunPython.noop),
        migrations.RunPython(create_search_index, drop_search_index),
    ]
