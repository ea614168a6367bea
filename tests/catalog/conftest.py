import subprocess
from pathlib import Path

import pytest

from integrations.git import init_bare
from tests.helpers import require_binary

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
EXAMPLES = SHARED / "conformance" / "backstage" / "packages" / "catalog-model" / "examples"


@pytest.fixture
def git_repo(tmp_path):
    """A real bare repository and a helper that commits files to it, as a developer would push them."""
    require_binary("git")
    bare = init_bare(tmp_path / "service.git")
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True, capture_output=True)

    def commit(files: dict[str, str | None], message: str = "change") -> None:
        for name, content in files.items():
            path = work / name
            if content is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        env = {
            "GIT_AUTHOR_NAME": "Dev",
            "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev",
            "GIT_COMMITTER_EMAIL": "dev@example.com",
            "PATH": "/usr/bin:/bin",
        }
        subprocess.run(["git", "add", "-A"], cwd=work, check=True, env=env)
        subprocess.run(["git", "commit", "-q", "-m", message], cwd=work, check=True, env=env)
        subprocess.run(["git", "push", "-q", "origin", "HEAD:main"], cwd=work, check=True, env=env, capture_output=True)

    commit.url = f"file://{bare}"
    return commit
