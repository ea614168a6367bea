"""Catalog benchmark: ingestion throughput and page server times on a large catalog.

    python bench/catalog.py [--entities 50000] [--samples 30] [--keep]

Runs against the server in DATABASE_URL, in a database of its own (its name + "_bench_catalog", created and dropped
here), so
your data is never touched. It writes descriptor files for a synthetic organisation (about three relations per
entity), ingests them through the normal path (a folder location and `location_refresh`), ingests them again
unchanged, then times the pages in-process with Django's test client (server time: no network, no browser) and
counts their SQL queries. Prints readable figures, then one line of JSON with the same figures.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _support import (  # noqa: E402  (bench/ is on the path when run as a script)
    bench_database_url,
    drop_postgres_database,
    is_postgres,
    recreate_postgres_database,
    time_page,
)


def write_organisation(folder: Path, entities: int) -> dict[str, int]:
    """Descriptor files for an organisation of about `entities` entities; returns counts by kind."""
    import yaml

    groups = max(10, entities // 100)
    users = max(20, entities // 50)
    systems = max(5, entities // 500)
    domains = max(2, systems // 10)
    apis = entities // 5
    resources = entities // 15
    components = entities - groups - users - systems - domains - apis - resources
    documents = []

    def add(kind, name, spec):
        documents.append(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": kind,
                "metadata": {
                    "name": name,
                    "description": f"{kind} {name} of the benchmark organisation",
                    "tags": ["bench", kind.lower()],
                },
                "spec": spec,
            }
        )

    for g in range(groups):
        spec = {"type": "team", "children": []}
        if g >= 10:
            spec["parent"] = f"team-{g // 10}"
        add("Group", f"team-{g}", spec)
    for u in range(users):
        add("User", f"user-{u}", {"memberOf": [f"team-{u % groups}"]})
    for d in range(domains):
        add("Domain", f"domain-{d}", {"owner": f"team-{d % groups}"})
    for s in range(systems):
        add("System", f"system-{s}", {"owner": f"team-{s % groups}", "domain": f"domain-{s % domains}"})
    for a in range(apis):
        add(
            "API",
            f"api-{a}",
            {
                "type": "openapi",
                "lifecycle": "production",
                "owner": f"team-{a % groups}",
                "system": f"system-{a % systems}",
                "definition": "openapi: 3.0.0",
            },
        )
    for r in range(resources):
        add(
            "Resource",
            f"db-{r}",
            {"type": "database", "owner": f"team-{r % groups}", "system": f"system-{r % systems}"},
        )
    for c in range(components):
        # Team 0 owns 500 components, so the group page below shows a large group.
        owner = "team-0" if c < 500 else f"team-{c % groups}"
        add(
            "Component",
            f"service-{c}",
            {
                "type": "service",
                "lifecycle": ("production", "experimental", "deprecated")[c % 3],
                "owner": owner,
                "system": f"system-{c % systems}",
                "providesApis": [f"api-{c % apis}"],
                "consumesApis": [f"api-{(c * 7) % apis}"],
                "dependsOn": [f"resource:db-{c % resources}"],
            },
        )
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(documents), 500):
        with (folder / f"part-{start // 500:04d}.yaml").open("w") as handle:
            yaml.safe_dump_all(documents[start : start + 500], handle, sort_keys=False)
    return {
        "Group": groups,
        "User": users,
        "Domain": domains,
        "System": systems,
        "API": apis,
        "Resource": resources,
        "Component": components,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database afterwards.")
    args = parser.parse_args()

    source_url = os.environ.get("DATABASE_URL", "")
    url = bench_database_url(source_url, suffix="bench_catalog")
    postgres = is_postgres(url)
    if postgres:
        recreate_postgres_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("PORTICO_DATA_DIR", tempfile.mkdtemp(prefix="portico-bench-data-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from catalog.ingestion import location_refresh
    from catalog.locations import location_register
    from catalog.models import Entity, Relation

    call_command("migrate", verbosity=0)
    folder = Path(tempfile.mkdtemp(prefix="portico-bench-catalog-"))
    counts = write_organisation(folder, args.entities)
    location = location_register(actor=None, type="path", target=str(folder))

    started = time.perf_counter()
    report = location_refresh(location=location)
    first_seconds = time.perf_counter() - started
    assert not report.failed, report.summary()
    entities = Entity.objects.count()
    relations = Relation.objects.count()

    if postgres:
        # Autovacuum would do this a little later on a real server; pages are measured in that steady state.
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE catalog_entity")
            cursor.execute("VACUUM ANALYZE catalog_relation")

    started = time.perf_counter()
    reload_report = location_refresh(location=location)
    reload_seconds = time.perf_counter() - started
    assert reload_report.count("unchanged") == entities, f"{entities} entities: {reload_report.summary()}"
    print(f"ingested {entities} entities in {first_seconds:.1f} s, unchanged reload {reload_seconds:.1f} s", flush=True)

    user = get_user_model().objects.create_user(username="bench", password="bench")
    client = Client()
    client.force_login(user)
    sample = f"service-{counts['Component'] // 2}"
    pages = {
        "catalog index": "/catalog/",
        "index kind+owner": "/catalog/?kind=component&owner=group:default/team-3",
        "index text search": f"/catalog/?q={sample}",
        "entity page": f"/catalog/component/default/{sample}/",
        "group page (500 owned)": "/catalog/group/default/team-0/",
        "API list (100)": "/api/catalog/entities/?page_size=100",
    }
    page_figures = {name: time_page(client, page, args.samples) for name, page in pages.items()}

    figures = {
        "database": "postgresql" if postgres else "sqlite",
        "entities": entities,
        "relations": relations,
        "kinds": counts,
        "first_load_seconds": round(first_seconds, 2),
        "first_load_entities_per_second": round(entities / first_seconds),
        "unchanged_reload_seconds": round(reload_seconds, 2),
        "unchanged_reload_entities_per_second": round(entities / reload_seconds),
        "pages": page_figures,
    }
    print(f"Catalog benchmark on {figures['database']}: {entities} entities, {relations} relations")
    print(f"  first load:       {first_seconds:7.1f} s  {figures['first_load_entities_per_second']:>7} entities/s")
    print(
        f"  unchanged reload: {reload_seconds:7.1f} s  {figures['unchanged_reload_entities_per_second']:>7} entities/s"
    )
    print(f"  {'page':<24} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for name, figure in page_figures.items():
        print(f"  {name:<24} {figure['p50_ms']:>8} {figure['p95_ms']:>8} {figure['queries']:>8}")
    print(json.dumps(figures))
    if postgres and not args.keep:
        drop_postgres_database(url)


if __name__ == "__main__":
    main()
