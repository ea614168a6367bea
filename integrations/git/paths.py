"""Path safety inside a working tree, and the read-only `Checkout` view the catalog reads files through.

Paths come from users and from repositories we do not control: `..`, absolute paths, `.git/...` and symlinks that
point outside the tree are refused, so reading `catalog-info.yaml` can never read /etc/passwd.
"""

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import GitError

DEFAULT_MAX_FILE_BYTES = 1024 * 1024
_MAX_PATH_CHARS = 1024


def safe_relpath(relpath: str) -> PurePosixPath:
    """Check a repository-relative path (posix separators) and return it; raise GitError when it could escape."""
    if not isinstance(relpath, str) or not relpath or len(relpath) > _MAX_PATH_CHARS:
        raise GitError(f"invalid path {relpath!r}")
    if "\x00" in relpath or "\\" in relpath or relpath.startswith("/"):
        raise GitError(f"path {relpath!r} must be relative to the repository root, with / separators")
    path = PurePosixPath(relpath)
    parts = [part for part in path.parts if part != "."]
    if not parts or any(part == ".." for part in parts):
        raise GitError(f"path {relpath!r} leaves the repository")
    if any(part.lower() == ".git" for part in parts):
        raise GitError(f"path {relpath!r} points into .git")
    return PurePosixPath(*parts)


def resolve_inside(root: Path, relpath: str) -> Path:
    """The absolute path of relpath under root, after following symlinks; GitError when it lands outside root."""
    rel = safe_relpath(relpath)
    root = root.resolve()
    candidate = (root / rel).resolve()
    if candidate != root and root not in candidate.parents:
        raise GitError(f"path {relpath!r} leads outside the repository (through a symlink)")
    return candidate


def glob_match(relpath: str, pattern: str) -> bool:
    """Match a posix path against a glob where `*` stays within one directory and `**` spans any number of them."""
    return _match_parts(relpath.split("/"), pattern.split("/"))


def _match_parts(parts: list[str], pattern: list[str]) -> bool:
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match_parts(parts[index:], rest) for index in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and _match_parts(parts[1:], rest)


@dataclass(frozen=True)
class Checkout:
    """A checked-out tree at one commit, read-only by convention: read files, list them, nothing else."""

    root: Path
    head_sha: str

    def exists(self, relpath: str) -> bool:
        try:
            return resolve_inside(self.root, relpath).is_file()
        except GitError:
            return False

    def read_bytes(self, relpath: str, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bytes:
        path = resolve_inside(self.root, relpath)
        if not path.is_file():
            raise GitError(f"{relpath} does not exist at {self.head_sha[:12]}")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise GitError(f"{relpath} is larger than the limit of {max_bytes} bytes")
        return data

    def read_text(self, relpath: str, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> str:
        try:
            return self.read_bytes(relpath, max_bytes=max_bytes).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GitError(f"{relpath} is not UTF-8 text") from exc

    def glob(self, pattern: str) -> list[str]:
        """Repository-relative paths of the files matching pattern (e.g. `**/catalog-info.yaml`), sorted.

        Symlinks are not followed while walking; a symlinked file is listed only when it stays inside the tree.
        """
        if pattern.startswith("/") or ".." in pattern.split("/") or "\x00" in pattern:
            raise GitError(f"invalid pattern {pattern!r}")
        found = []
        for directory, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = [name for name in dirnames if name != ".git"]
            base = Path(directory)
            for name in filenames:
                relpath = (base / name).relative_to(self.root).as_posix()
                if glob_match(relpath, pattern) and self.exists(relpath):
                    found.append(relpath)
        return sorted(found)


def write_files(root: Path, files: dict[str, bytes | None]) -> None:
    """Write (bytes) or delete (None) files under root, refusing paths that escape it.

    A symlink already at a target path is replaced rather than written through.
    """
    for relpath, content in files.items():
        rel = safe_relpath(relpath)
        parent = resolve_inside(root, str(rel.parent)) if rel.parent != PurePosixPath(".") else root
        target = parent / rel.name
        if content is None:
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.is_dir():
                raise GitError(f"{relpath} is a directory; list its files to delete them")
            continue
        if not isinstance(content, bytes):
            raise GitError(f"content for {relpath} must be bytes or None")
        parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        elif target.is_dir():
            raise GitError(f"{relpath} is a directory in the repository")
        target.write_bytes(content)


def validate_files(files: dict[str, bytes | None]) -> None:
    """Refuse a file set with unsafe paths or contents other than bytes/None before anything touches a remote."""
    if not files:
        raise GitError("no files given")
    for relpath, content in files.items():
        safe_relpath(relpath)
        if content is not None and not isinstance(content, bytes):
            raise GitError(f"content for {relpath} must be bytes or None")
