"""Git operations Portico needs, through the plain git CLI.

Every function takes its settings explicitly, runs each git command with a timeout, accepts a token only as a
keyword (sent as an HTTP header through the environment, see _run.py) and raises GitError with a readable message.
Writes are idempotent so a retried run neither fails nor makes a second commit: pushing the same tree again or
writing files that are already there changes nothing.
"""

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ._run import LOCAL_TIMEOUT, NETWORK_TIMEOUT, Identity, run_git
from .errors import GitError, PushRejectedError, redact
from .paths import Checkout, safe_relpath, validate_files, write_files
from .urls import is_safe_url

logger = logging.getLogger("integrations.git")

DEFAULT_FETCH_MAX_BYTES = 50 * 1024 * 1024
_MAX_CHECKOUT_FILES = 20_000


@dataclass(frozen=True)
class CommitResult:
    """What a write left on the remote branch: its head commit and whether this call changed it.

    sha is None only when the remote repository is empty and there was nothing to commit.
    """

    sha: str | None
    changed: bool


@dataclass(frozen=True)
class RemoteHead:
    """The default branch of a remote (None when the server does not say) and the commit it points at."""

    branch: str | None
    sha: str


def init_bare(path: Path | str, *, default_branch: str = "main") -> Path:
    """Create a bare repository at path (the embedded default keeps repositories like this); reuse an existing one."""
    path = Path(path)
    _check_branch(default_branch)
    if (path / "HEAD").is_file() and (path / "objects").is_dir():
        return path
    path.mkdir(parents=True, exist_ok=True)
    run_git(["init", "--quiet", "--bare", f"--initial-branch={default_branch}", "--", str(path)])
    return path


def clone(
    url: str,
    dest: Path | str,
    *,
    branch: str | None = None,
    depth: int | None = 1,
    token: str | None = None,
    timeout: float = NETWORK_TIMEOUT,
) -> Path:
    """Clone url into dest (which must not exist or be empty); shallow unless depth is None."""
    _check_url(url)
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise GitError(f"cannot clone into {dest}: the directory is not empty")
    args = ["clone", "--quiet", "--no-tags"]
    if depth is not None:
        args.append(f"--depth={int(depth)}")
    if branch:
        _check_branch(branch)
        args.append(f"--branch={branch}")
    run_git([*args, "--", url, str(dest)], timeout=timeout, token=token, url=url)
    return dest


@contextmanager
def fetch_files(
    url: str,
    *,
    ref: str | None = None,
    paths: list[str] | tuple[str, ...] | None = None,
    token: str | None = None,
    max_bytes: int = DEFAULT_FETCH_MAX_BYTES,
    timeout: float = NETWORK_TIMEOUT,
) -> Iterator[Checkout]:
    """Check out one commit of url (a branch, tag or commit sha; the default branch when ref is None) into a
    temporary directory and yield a read-only `Checkout`; the directory is removed on exit.

    paths limits the checkout to those files or directories. Before anything is written to disk the sizes of the
    selected files are added up from the tree: more than max_bytes (or too many files) is refused, so a small
    download that would unpack into gigabytes never does.
    """
    _check_url(url)
    if ref is not None:
        _check_ref(ref)
    selected = [safe_relpath(path).as_posix() for path in (paths or [])]
    tmp = Path(tempfile.mkdtemp(prefix="portico-git-")).resolve()
    try:
        workdir = tmp / "tree"
        run_git(["init", "--quiet", "--", str(workdir)])
        run_git(
            ["fetch", "--quiet", "--no-tags", "--depth=1", "--", url, ref or "HEAD"],
            cwd=workdir,
            timeout=timeout,
            token=token,
            url=url,
        )
        head_sha = run_git(["rev-parse", "--verify", "FETCH_HEAD^{commit}"], cwd=workdir).stdout.strip()
        _check_tree_size(workdir, head_sha, selected=selected, max_bytes=max_bytes)
        if selected:
            patterns = "".join(f"/{_escape_pattern(path)}\n" for path in selected)
            run_git(["sparse-checkout", "set", "--no-cone", "--stdin"], cwd=workdir, stdin=patterns)
        run_git(["checkout", "--quiet", "--detach", head_sha], cwd=workdir, timeout=timeout)
        yield Checkout(root=workdir, head_sha=head_sha)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def commit_all(
    workdir: Path | str, *, message: str, author_name: str, author_email: str, timeout: float = LOCAL_TIMEOUT
) -> str | None:
    """Stage every change in workdir and commit it; return the new sha, or None when nothing changed."""
    identity = Identity(author_name, author_email)
    run_git(["add", "--all"], cwd=workdir, timeout=timeout)
    changed = run_git(["diff", "--cached", "--quiet"], cwd=workdir, ok_codes=(0, 1)).returncode == 1
    if not changed:
        return None
    run_git(
        ["commit", "--quiet", "--no-verify", "--no-gpg-sign", "--file=-"],
        cwd=workdir,
        identity=identity,
        stdin=_message(message),
        timeout=timeout,
    )
    return _rev_parse(workdir, "HEAD")


def push(
    workdir: Path | str,
    *,
    remote_url: str,
    branch: str,
    token: str | None = None,
    force: bool = False,
    timeout: float = NETWORK_TIMEOUT,
) -> str:
    """Push workdir's HEAD to branch on remote_url and return the pushed sha.

    Raises PushRejectedError when the remote branch has moved on (and force is False).
    """
    _check_url(remote_url)
    _check_branch(branch)
    sha = _rev_parse(workdir, "HEAD")
    args = ["push", "--quiet", "--no-verify"]
    if force:
        args.append("--force")
    run_git(
        [*args, "--", remote_url, f"{sha}:refs/heads/{branch}"],
        cwd=workdir,
        timeout=timeout,
        token=token,
        url=remote_url,
    )
    return sha


def push_directory(
    src_dir: Path | str,
    *,
    remote_url: str,
    branch: str,
    message: str,
    author_name: str,
    author_email: str,
    token: str | None = None,
    timeout: float = NETWORK_TIMEOUT,
) -> CommitResult:
    """Push the contents of src_dir as the first commit of branch (e.g. a rendered skeleton into a new repository).

    src_dir is left untouched (the git directory lives elsewhere). When the remote branch already holds exactly
    this tree nothing happens (a retried run); when it holds something else, GitError: we never overwrite history.
    """
    _check_url(remote_url)
    _check_branch(branch)
    identity = Identity(author_name, author_email)
    src_dir = Path(src_dir)
    if not src_dir.is_dir():
        raise GitError(f"{src_dir} is not a directory")
    with tempfile.TemporaryDirectory(prefix="portico-git-") as tmp:
        scratch = Path(tmp) / "repo"
        run_git(["init", "--quiet", "--", str(scratch)])
        tree_args = [f"--git-dir={scratch / '.git'}", f"--work-tree={src_dir}"]
        run_git([*tree_args, "add", "--all"], timeout=timeout)
        tree = run_git([*tree_args, "write-tree"]).stdout.strip()
        existing = _same_tree_on_remote(scratch, remote_url, branch=branch, tree=tree, token=token, timeout=timeout)
        if existing is not None:
            return existing
        sha = run_git(
            [*tree_args, "commit-tree", tree, "-F", "-"], identity=identity, stdin=_message(message)
        ).stdout.strip()
        try:
            run_git(
                ["push", "--quiet", "--no-verify", "--", remote_url, f"{sha}:refs/heads/{branch}"],
                cwd=scratch,
                timeout=timeout,
                token=token,
                url=remote_url,
            )
        except PushRejectedError:
            # Someone (most likely an earlier attempt of this run) pushed in between: fine if it is our tree.
            existing = _same_tree_on_remote(scratch, remote_url, branch=branch, tree=tree, token=token, timeout=timeout)
            if existing is None:
                raise
            return existing
    return CommitResult(sha=sha, changed=True)


def write_files_and_push(
    remote_url: str,
    *,
    branch: str,
    files: dict[str, bytes | None],
    message: str,
    author_name: str,
    author_email: str,
    token: str | None = None,
    base_branch: str | None = None,
    timeout: float = NETWORK_TIMEOUT,
) -> CommitResult:
    """Write files (bytes) or delete them (None) on branch and push one commit.

    branch is created from base_branch when it does not exist yet (from the default branch when base_branch is
    None, or as the first branch of an empty repository). Nothing is committed when the files already have this
    content (changed=False). When the branch moves on between our fetch and our push, the change is applied
    again on a fresh fetch, once.
    """
    _check_url(remote_url)
    _check_branch(branch)
    if base_branch is not None:
        _check_branch(base_branch)
    validate_files(files)
    identity = Identity(author_name, author_email)
    for attempt in (1, 2):
        with tempfile.TemporaryDirectory(prefix="portico-git-") as tmp:
            workdir = Path(tmp) / "work"
            start_sha, branch_exists = _prepare_branch(
                workdir, remote_url, branch=branch, base_branch=base_branch, token=token, timeout=timeout
            )
            write_files(workdir, files)
            sha = commit_all(
                workdir, message=message, author_name=identity.name, author_email=identity.email, timeout=timeout
            )
            if sha is None:
                # Nothing to change. A branch that does not exist yet is not created just to equal its base.
                return CommitResult(sha=start_sha, changed=False)
            try:
                push(workdir, remote_url=remote_url, branch=branch, token=token, timeout=timeout)
            except PushRejectedError:
                if attempt == 2:
                    raise
                logger.info("branch %s moved on while we wrote to it; fetching again", branch)
                continue
            return CommitResult(sha=sha, changed=True)
    raise AssertionError("unreachable: the second attempt returns or raises")


def diff_files(
    remote_url: str,
    *,
    branch: str,
    files: dict[str, bytes | None],
    token: str | None = None,
    base_branch: str | None = None,
    timeout: float = NETWORK_TIMEOUT,
) -> str:
    """The unified diff write_files_and_push would commit, for dry runs; empty when nothing would change.

    Reads the remote and nothing else: no commit, no push.
    """
    _check_url(remote_url)
    _check_branch(branch)
    if base_branch is not None:
        _check_branch(base_branch)
    validate_files(files)
    with tempfile.TemporaryDirectory(prefix="portico-git-") as tmp:
        workdir = Path(tmp) / "work"
        _prepare_branch(workdir, remote_url, branch=branch, base_branch=base_branch, token=token, timeout=timeout)
        write_files(workdir, files)
        run_git(["add", "--all"], cwd=workdir, timeout=timeout)
        return run_git(
            ["diff", "--cached", "--no-color", "--no-ext-diff", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/"],
            cwd=workdir,
            timeout=timeout,
        ).stdout


def ls_remote_head(url: str, *, token: str | None = None, timeout: float = NETWORK_TIMEOUT) -> RemoteHead | None:
    """The remote's HEAD (default branch and sha), or None for an empty repository. A cheap reachability check."""
    _check_url(url)
    output = run_git(["ls-remote", "--symref", "--", url, "HEAD"], timeout=timeout, token=token, url=url).stdout
    branch = None
    for line in output.splitlines():
        target, _, name = line.partition("\t")
        if name != "HEAD":
            continue
        if target.startswith("ref: refs/heads/"):
            branch = target.removeprefix("ref: refs/heads/")
        else:
            return RemoteHead(branch=branch, sha=target)
    return None


def _prepare_branch(
    workdir: Path, remote_url: str, *, branch: str, base_branch: str | None, token: str | None, timeout: float
) -> tuple[str | None, bool]:
    """Make workdir a shallow checkout of branch (or of where branch will start); return (start sha, exists)."""
    heads, default_branch = _remote_refs(remote_url, token=token, timeout=timeout)
    run_git(["init", "--quiet", "--", str(workdir)])
    if branch in heads:
        start, exists = branch, True
    elif base_branch is not None:
        if base_branch not in heads:
            raise GitError(f"base branch {base_branch!r} does not exist in {redact(remote_url)}")
        start, exists = base_branch, False
    else:
        start, exists = (default_branch if default_branch in heads else None), False
    if start is None:
        run_git(["symbolic-ref", "HEAD", f"refs/heads/{branch}"], cwd=workdir)
        return None, False
    run_git(
        ["fetch", "--quiet", "--no-tags", "--depth=1", "--", remote_url, f"refs/heads/{start}"],
        cwd=workdir,
        timeout=timeout,
        token=token,
        url=remote_url,
    )
    run_git(["checkout", "--quiet", "-B", branch, "FETCH_HEAD"], cwd=workdir, timeout=timeout)
    return _rev_parse(workdir, "HEAD"), exists


def _remote_refs(url: str, *, token: str | None, timeout: float) -> tuple[dict[str, str], str | None]:
    """The remote's branches ({name: sha}) and its default branch, in one ls-remote."""
    output = run_git(
        ["ls-remote", "--symref", "--", url, "HEAD", "refs/heads/*"], timeout=timeout, token=token, url=url
    ).stdout
    heads, default_branch = {}, None
    for line in output.splitlines():
        target, _, name = line.partition("\t")
        if name == "HEAD" and target.startswith("ref: refs/heads/"):
            default_branch = target.removeprefix("ref: refs/heads/")
        elif name.startswith("refs/heads/"):
            heads[name.removeprefix("refs/heads/")] = target
    return heads, default_branch


def _same_tree_on_remote(
    scratch: Path, remote_url: str, *, branch: str, tree: str, token: str | None, timeout: float
) -> CommitResult | None:
    """CommitResult(unchanged) when branch exists with exactly tree, None when it does not exist; GitError else."""
    remote_sha = _remote_refs(remote_url, token=token, timeout=timeout)[0].get(branch)
    if remote_sha is None:
        return None
    run_git(
        ["fetch", "--quiet", "--no-tags", "--depth=1", "--", remote_url, f"refs/heads/{branch}"],
        cwd=scratch,
        timeout=timeout,
        token=token,
        url=remote_url,
    )
    remote_tree = run_git(["rev-parse", "--verify", "FETCH_HEAD^{tree}"], cwd=scratch).stdout.strip()
    if remote_tree == tree:
        return CommitResult(sha=remote_sha, changed=False)
    raise GitError(
        f"branch {branch!r} of {redact(remote_url)} already has other content; refusing to overwrite it "
        "(push to a new repository or branch, or change it with a commit on top)"
    )


def _check_tree_size(workdir: Path, sha: str, *, selected: list[str], max_bytes: int) -> None:
    listing = run_git(["ls-tree", "-r", "-l", "-z", sha], cwd=workdir).stdout
    total, count = 0, 0
    for entry in filter(None, listing.split("\0")):
        meta, _, path = entry.partition("\t")
        _mode, kind, _object, size = meta.split(maxsplit=3)
        if kind != "blob" or (selected and not any(path == p or path.startswith(p + "/") for p in selected)):
            continue
        total += int(size)
        count += 1
    if total > max_bytes or count > _MAX_CHECKOUT_FILES:
        raise GitError(
            f"the files to read are {count} files and {total} bytes, over the limit of "
            f"{_MAX_CHECKOUT_FILES} files and {max_bytes} bytes; narrow the paths"
        )


def _escape_pattern(path: str) -> str:
    """Make a path literal in a sparse-checkout (gitignore-style) pattern."""
    for special in ("\\", "*", "?", "[", "!", "#"):
        path = path.replace(special, "\\" + special)
    return path


def _rev_parse(workdir: Path | str, rev: str) -> str:
    return run_git(["rev-parse", "--verify", rev], cwd=workdir).stdout.strip()


def _message(message: str) -> str:
    message = message.strip()
    if not message:
        raise GitError("a commit message is required")
    return message + "\n"


def _check_url(url: str) -> None:
    """Refuse URLs that would make git run a command or read an option, whatever the caller allows otherwise."""
    if not is_safe_url(url, allow_local=True):
        raise GitError(f"refusing the git URL {redact(str(url))[:200]!r}: not a plain https, ssh, http or file remote")


def _check_branch(name: str) -> None:
    _check_ref(name)
    if len(name) == 40 and all(ch in "0123456789abcdef" for ch in name):
        raise GitError(f"{name!r} looks like a commit sha, not a branch name")


def _check_ref(ref: str) -> None:
    """A conservative subset of git's ref name rules; enough for branches, tags and shas, never an option."""
    valid = (
        isinstance(ref, str)
        and 0 < len(ref) <= 200
        and not ref.startswith(("-", "/", "."))
        and not ref.endswith(("/", ".", ".lock"))
        and ".." not in ref
        and "//" not in ref
        and "@{" not in ref
        and all(ch.isalnum() or ch in "._/-" for ch in ref)
        and ref.isascii()
    )
    if not valid:
        raise GitError(f"invalid branch or ref name {str(ref)[:100]!r}")
