import pytest

from integrations.git import init_bare
from integrations.github import GitHubClient
from tests.helpers import require_binary
from tests.standins.github import GitHubStandin


@pytest.fixture(autouse=True)
def _git_installed():
    require_binary("git")


@pytest.fixture
def github():
    with GitHubStandin(orgs=("acme",)) as standin:
        yield standin


@pytest.fixture
def client(github):
    return GitHubClient(base_url=github.api_url, token=github.token, retries=1)


@pytest.fixture
def author():
    return {"author_name": "Portico Bot", "author_email": "portico@example.com"}


@pytest.fixture
def remote(tmp_path):
    """An empty bare repository used as a remote through a plain path."""
    return str(init_bare(tmp_path / "remote.git"))
