"""Ingestion end to end: files, real git repositories and GitHub discovery, down to the stored entities."""

import textwrap

import pytest

from catalog.ingestion import location_refresh
from catalog.locations import location_register
from catalog.models import Entity, Location, Relation
from rbac.models import AuditEvent
from tests.standins.github import GitHubStandin

pytestmark = pytest.mark.django_db


def component(name, owner="team-a", **spec):
    extra = "".join(f"\n  {key}: {value}" for key, value in spec.items())
    return (
        textwrap.dedent(f"""\
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: {name}
          annotations:
            github.com/project-slug: acme/{name}
        spec:
          type: service
          lifecycle: production
          owner: {owner}""")
        + extra
        + "\n"
    )


GROUP = (
    "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n"
)


# "Billion laughs": nine levels of nine aliases, a billion strings if anything expanded it.
ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{level}: &{level} [{','.join([f'*{previous}'] * 9)}]\n"
    for previous, level in zip("abcdefgh", "bcdefghi", strict=True)
)


def upload(content, name="catalog-info.yaml"):
    location = location_register(actor=None, type="upload", target=name, content=content)
    return location, location_refresh(location=location)


def test_a_multi_document_file_creates_entities_and_relations():
    _, report = upload(component("payments") + "---\n" + GROUP)

    assert report.summary().startswith("2 created")
    payments = Entity.objects.get(ref="component:default/payments")
    assert payments.owner_ref == "group:default/team-a"
    assert payments.annotations == {"github.com/project-slug": "acme/payments"}
    relation = Relation.objects.get(source=payments, type="ownedBy")
    assert relation.target == Entity.objects.get(ref="group:default/team-a")


def test_a_relation_to_a_missing_entity_resolves_when_it_arrives():
    upload(component("payments"), name="one.yaml")
    relation = Relation.objects.get(type="ownedBy")
    assert relation.target is None
    assert relation.target_ref == "group:default/team-a"

    upload(GROUP, name="two.yaml")

    relation.refresh_from_db()
    assert relation.target.ref == "group:default/team-a"


def test_an_unchanged_refresh_writes_nothing():
    location, _ = upload(component("payments") + "---\n" + GROUP)
    stamp = Entity.objects.get(name="payments").updated_at
    events = AuditEvent.objects.count()

    report = location_refresh(location=location)

    assert report.count("unchanged") == 2
    assert Entity.objects.get(name="payments").updated_at == stamp
    assert AuditEvent.objects.count() == events


def test_one_bad_document_leaves_the_good_ones_and_the_old_version_alone():
    location, _ = upload(component("payments") + "---\n" + component("search"))
    location.content = (
        component("payments", owner="team-b")
        + "---\n"
        + component("search").replace("name: search", "name: 'bad name!'")
    )
    location.save()

    report = location_refresh(location=location)

    assert Entity.objects.get(name="payments").owner_ref == "group:default/team-b"
    assert Entity.objects.filter(name="search", orphaned=False).exists(), "the entity of the broken document stays"
    error = next(result for result in report.results if result.failed)
    assert error.document == 2
    assert error.line == 12  # where document 2 starts
    assert 'metadata.name "bad name!" is not valid' in error.message
    assert location.problems.get(severity="error").line == 12


def test_an_entity_gone_from_its_file_is_orphaned_not_deleted():
    location, _ = upload(component("payments") + "---\n" + component("search"))
    location.content = component("payments")
    location.save()

    report = location_refresh(location=location)

    assert report.orphaned == 1
    assert Entity.objects.get(name="search").orphaned is True
    assert Entity.objects.get(name="payments").orphaned is False


def test_a_source_that_suddenly_yields_nothing_waits_for_a_person():
    location, _ = upload(component("payments"))
    location.content = "# emptied by mistake\n"
    location.save()

    report = location_refresh(location=location)

    location.refresh_from_db()
    assert report.needs_confirmation
    assert location.status == Location.Status.NEEDS_CONFIRMATION
    assert Entity.objects.get(name="payments").orphaned is False

    location_refresh(location=location, confirm_empty=True)

    assert Entity.objects.get(name="payments").orphaned is True


def test_the_first_location_keeps_an_entity_and_the_second_is_told():
    first, _ = upload(component("payments"), name="first.yaml")
    _, report = upload(component("payments", owner="intruders"), name="second.yaml")

    entity = Entity.objects.get(name="payments")
    assert entity.location == first
    assert entity.owner_ref == "group:default/team-a"
    assert "already in the catalog from another location" in report.results[0].message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (ALIAS_BOMB, "alias"),
        ("!!python/object/apply:os.system ['echo hacked']\n", "tag"),
        ("- just\n- a list\n", "is a list"),
        ("kind: [unclosed\n", "YAML syntax error at line"),
        ("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\n" + "#" * 1_100_000, "limit"),
    ],
    ids=["alias-bomb", "unsafe-tag", "not-a-mapping", "syntax-error", "too-large"],
)
def test_hostile_files_get_a_clear_error_and_change_nothing(content, expected):
    location, _ = upload(component("payments"), name="service.yaml")
    location.content = content
    location.save()

    report = location_refresh(location=location)

    assert report.failed
    assert expected in " ".join(result.message for result in report.results)
    assert Entity.objects.get(name="payments").orphaned is False
    assert Entity.objects.count() == 1


def test_a_git_repository_with_location_targets_and_relative_placeholders(git_repo):
    git_repo(
        {
            "catalog-info.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\n"
            "spec:\n  targets:\n    - ./services/payments.yaml\n    - ../escape.yaml\n",
            "services/payments.yaml": component("payments") + "---\napiVersion: backstage.io/v1alpha1\nkind: API\n"
            "metadata:\n  name: payments-api\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n"
            "  definition:\n    $text: ./openapi.yaml\n",
            "services/openapi.yaml": "openapi: 3.0.0\ninfo:\n  title: Payments\n",
        }
    )
    location = location_register(actor=None, type="url", target=git_repo.url)

    report = location_refresh(location=location)

    api = Entity.objects.get(ref="api:default/payments-api")
    assert api.properties["definition"] == "openapi: 3.0.0\ninfo:\n  title: Payments\n"
    assert api.source_file == "services/payments.yaml"
    assert Entity.objects.filter(ref="location:default/root").exists()
    assert any("../escape.yaml" in result.message for result in report.results if result.failed)

    git_repo({"services/payments.yaml": component("payments", owner="team-b")}, message="drop the API")
    location_refresh(location=location)

    assert Entity.objects.get(ref="component:default/payments").owner_ref == "group:default/team-b"
    assert Entity.objects.get(ref="api:default/payments-api").orphaned is True


def test_an_unreadable_repository_keeps_everything_and_says_why(git_repo, tmp_path):
    git_repo({"catalog-info.yaml": component("payments")})
    location = location_register(actor=None, type="url", target=git_repo.url)
    location_refresh(location=location)
    location.target = f"file://{tmp_path}/gone.git"
    location.save()

    report = location_refresh(location=location)

    location.refresh_from_db()
    assert location.status == Location.Status.ERROR
    assert "Could not read the repository" in report.source_error
    assert Entity.objects.get(name="payments").orphaned is False


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data.git",
        "https://127.0.0.1/acme/repo.git",
        "https://10.0.0.5/x.git",
        "ext::sh -c touch% /tmp/pwned",
        "--upload-pack=touch /tmp/pwned",
    ],
)
def test_repository_urls_pointing_inside_are_refused(url, settings):
    settings.CATALOG_ALLOWED_HOSTS = ["github.com", "127.0.0.1", "10.0.0.5", "169.254.169.254"]
    from catalog.services import CatalogError

    with pytest.raises(CatalogError) as raised:
        location_register(actor=None, type="url", target=url)

    assert raised.value.errors["target"]
    assert not Location.objects.exists()


def test_local_repositories_can_be_turned_off(settings, git_repo):
    settings.CATALOG_ALLOW_LOCAL_REPOSITORIES = False
    from catalog.services import CatalogError

    with pytest.raises(CatalogError):
        location_register(actor=None, type="url", target=git_repo.url)


def test_github_organisation_discovery(monkeypatch):
    with GitHubStandin(orgs=("acme",)) as github:
        github.create_repo("acme", "payments", files={"catalog-info.yaml": component("payments")})
        github.create_repo("acme", "search", files={"catalog-info.yaml": component("search")})
        github.create_repo("acme", "no-catalog", files={"README.md": "hi"})
        monkeypatch.setenv("GITHUB_URL", github.api_url)
        monkeypatch.setenv("GITHUB_TOKEN", github.token)
        location = location_register(actor=None, type="github-org", target="acme")

        report = location_refresh(location=location)

    assert report.count("created") == 2
    assert set(Entity.objects.values_list("name", flat=True)) == {"payments", "search"}
    assert Entity.objects.get(name="payments").source_file.endswith("catalog-info.yaml")


def test_github_discovery_answering_an_empty_list_does_not_wipe_the_catalog(monkeypatch):
    with GitHubStandin(orgs=("acme",)) as github:
        github.create_repo("acme", "payments", files={"catalog-info.yaml": component("payments")})
        monkeypatch.setenv("GITHUB_URL", github.api_url)
        monkeypatch.setenv("GITHUB_TOKEN", github.token)
        location = location_register(actor=None, type="github-org", target="acme")
        location_refresh(location=location)
        github.commit_files("acme/payments", {"catalog-info.yaml": ""})

        report = location_refresh(location=location)

    assert report.needs_confirmation
    assert Entity.objects.get(name="payments").orphaned is False


def test_a_custom_blueprint_entity_is_checked_against_its_schema_and_relations():
    from catalog.services import blueprint_create

    blueprint_create(
        actor=None,
        identifier="database",
        title="Database",
        schema={"type": "object", "properties": {"engine": {"enum": ["postgres", "mysql"]}}, "required": ["engine"]},
        relations=[{"identifier": "usedBy", "title": "Used by", "target": "component", "many": True}],
    )
    good = (
        "apiVersion: portico.dev/v1\nkind: Database\nmetadata:\n  name: orders-db\nspec:\n  engine: postgres\n"
        "  usedBy: [payments]\n"
    )
    bad = "apiVersion: portico.dev/v1\nkind: Database\nmetadata:\n  name: cache-db\nspec:\n  engine: redis\n"

    _, report = upload(good + "---\n" + bad)

    assert Relation.objects.get(type="usedBy").target_ref == "component:default/payments"
    assert "engine: 'redis' is not one of ['postgres', 'mysql']" in report.results[-1].message


def test_a_refresh_after_an_edit_in_portico_brings_back_what_the_file_says():
    from catalog.services import entity_update

    location, _ = upload(component("payments"))
    entity_update(actor=None, entity=Entity.objects.get(name="payments"), changes={"lifecycle": "deprecated"})

    report = location_refresh(location=location)

    assert report.count("updated") == 1
    assert Entity.objects.get(name="payments").lifecycle == "production"


def test_an_unchanged_source_is_not_even_parsed_again(git_repo):
    git_repo({"catalog-info.yaml": component("payments") + "---\n" + GROUP})
    location = location_register(actor=None, type="url", target=git_repo.url)
    location_refresh(location=location)
    git_repo({"README.md": "unrelated change"}, message="docs")

    report = location_refresh(location=location)

    assert sorted(result.outcome for result in report.results) == ["unchanged", "unchanged"]
    git_repo({"catalog-info.yaml": component("payments", owner="team-b") + "---\n" + GROUP})
    assert location_refresh(location=location).count("updated") == 1
