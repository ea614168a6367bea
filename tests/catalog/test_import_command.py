import pytest
from django.core.management import CommandError, call_command

from catalog.models import Entity
from tests.catalog.conftest import EXAMPLES

pytestmark = pytest.mark.django_db

GOOD = (
    "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n"
)


def test_a_file_imports_with_one_line_per_document_and_a_summary(tmp_path, capsys):
    path = tmp_path / "catalog-info.yaml"
    path.write_text(GOOD)

    call_command("catalog_import", str(path))

    out = capsys.readouterr().out
    assert "created   catalog-info.yaml:1 (document 1) group:default/team-a" in out
    assert "Summary: 1 created, 0 updated, 0 unchanged, 0 error, 0 warning" in out

    call_command("catalog_import", str(path))

    assert "1 unchanged" in capsys.readouterr().out


def test_a_failing_document_is_reported_with_file_and_line_and_fails_the_command(tmp_path, capsys):
    path = tmp_path / "catalog-info.yaml"
    path.write_text(GOOD + "---\nkind: Component\nmetadata:\n  name: no version\n")

    with pytest.raises(CommandError):
        call_command("catalog_import", str(path))

    err = capsys.readouterr().err
    assert "error     catalog-info.yaml:9 (document 2)" in err
    assert "apiVersion is required" in err
    assert Entity.objects.filter(name="team-a").exists()


def test_a_folder_imports_every_yaml_below(capsys):
    with pytest.raises(CommandError):  # the examples hold one deliberately invalid file
        call_command("catalog_import", str(EXAMPLES))

    assert Entity.objects.filter(kind="Component").count() >= 10
    assert "invalid-component.yaml" in capsys.readouterr().err


def test_a_repository_url_imports(git_repo, capsys):
    git_repo({"catalog-info.yaml": GOOD})

    call_command("catalog_import", git_repo.url)

    assert Entity.objects.filter(ref="group:default/team-a").exists()


def test_an_unsafe_url_is_refused(capsys):
    with pytest.raises(CommandError):
        call_command("catalog_import", "http://169.254.169.254/latest.git")

    assert "not allowed" in capsys.readouterr().err
