"""Skeleton rendering into a run's workspace: file contents and file names through the expression sandbox.

Everything here treats the skeleton and the values as hostile: output paths must stay inside the target directory
(no `..`, no absolute paths, no writing through symlinks), symlinks in the source that point outside it are refused,
and the number of files and bytes is capped. Binary files (a NUL byte, or not UTF-8) are copied byte for byte.
A path component that renders to nothing skips the file or folder, as in Backstage (conditional files).
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from scaffolder.expressions import ExpressionError, prepare_context, render_text

MAX_FILES = 2000
MAX_BYTES = 50 * 1024 * 1024
FILE_RENDER_SECONDS = 5.0


class WorkspaceError(ValueError):
    """A skeleton cannot be rendered or copied; the message names the file."""


@dataclass(frozen=True)
class RenderedFile:
    path: str  # relative to the target directory, with forward slashes
    size: int
    binary: bool


def resolve_inside(base: Path, relative: str) -> Path:
    """`base / relative`, refusing absolute paths, `..` and symlinks that would lead outside `base`."""
    text = str(relative).strip()
    pure = PurePosixPath(text.replace("\\", "/"))
    if pure.is_absolute() or text.startswith("~"):
        raise WorkspaceError(f"the path {text!r} is absolute; give a path inside the workspace")
    if ".." in pure.parts:
        raise WorkspaceError(f"the path {text!r} goes up with '..'; give a path inside the workspace")
    root = Path(base).resolve()
    candidate = root.joinpath(*pure.parts) if pure.parts else root
    if not (candidate.resolve() == root or candidate.resolve().is_relative_to(root)):
        raise WorkspaceError(f"the path {text!r} leads outside the workspace through a symlink")
    return candidate


def _matches(relative: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        pattern = pattern.removeprefix("./")
        if fnmatch.fnmatchcase(relative, pattern):
            return True
        if pattern.startswith("**/") and fnmatch.fnmatchcase(relative, pattern[3:]):
            return True
    return False


def _source_files(source_dir: Path, max_files: int) -> Iterator[tuple[str, Path]]:
    """(relative path, path) of every file under source_dir, sorted; symlinks must point at files inside it."""
    root = Path(source_dir).resolve()
    if not root.is_dir():
        raise WorkspaceError(f"the skeleton folder {source_dir} does not exist")
    count = 0
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in list(dirnames):
            path = Path(directory, name)
            if path.is_symlink():
                raise WorkspaceError(f"{path.relative_to(root)} is a symlink to a folder; skeletons may not hold those")
        for name in sorted(filenames):
            path = Path(directory, name)
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(root):
                    raise WorkspaceError(f"{relative} is a symlink to {os.readlink(path)}, outside the skeleton")
                if not target.is_file():
                    raise WorkspaceError(f"{relative} is a symlink to something that is not a file")
            elif not stat.S_ISREG(path.lstat().st_mode):
                raise WorkspaceError(f"{relative} is not a regular file")
            count += 1
            if count > max_files:
                raise WorkspaceError(f"the skeleton has more than {max_files} files")
            yield relative, path


def _render_path(relative: str, context: Mapping[str, Any]) -> str | None:
    """Render each component of a path; None when one renders to nothing (the file is skipped)."""
    parts: list[str] = []
    for component in relative.split("/"):
        try:
            rendered = render_text(component, context, blocks=False, max_chars=1024)
        except ExpressionError as exc:
            raise WorkspaceError(f"the file name {relative!r}: {exc}") from exc
        if not rendered.strip():
            return None
        if rendered.startswith("/") or "\x00" in rendered:
            raise WorkspaceError(f"the file name {relative!r} renders to {rendered!r}, which is not a relative path")
        pieces = rendered.split("/")
        if any(piece in ("", ".", "..") for piece in pieces):
            raise WorkspaceError(f"the file name {relative!r} renders to {rendered!r}, which leaves its folder")
        parts += pieces
    return "/".join(parts)


def _is_binary(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _write(target_root: Path, relative: str, data: bytes, mode: int) -> None:
    destination = resolve_inside(target_root, relative)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.is_symlink() or destination.is_dir():
        raise WorkspaceError(f"{relative} already exists in the workspace as a symlink or a folder")
    destination.write_bytes(data)
    destination.chmod(mode & 0o755 | 0o600)


def render_skeleton(
    source_dir: Path,
    target_dir: Path,
    values: Mapping[str, Any],
    *,
    copy_without_templating: Sequence[str] = (),
    max_files: int = MAX_FILES,
    max_bytes: int = MAX_BYTES,
) -> list[RenderedFile]:
    """Render a skeleton folder into target_dir with `${{ values.x }}`; returns what was written, sorted by path."""
    target_root = Path(target_dir)
    target_root.mkdir(parents=True, exist_ok=True)
    context = prepare_context({"values": dict(values)})
    written: dict[str, RenderedFile] = {}
    budget = max_bytes
    for relative, path in _source_files(Path(source_dir), max_files):
        output_path = _render_path(relative, context)
        if output_path is None:
            continue
        if output_path in written:
            raise WorkspaceError(f"{relative} renders to {output_path}, which another skeleton file also renders to")
        size = path.stat().st_size
        if size > budget:
            raise WorkspaceError(f"the skeleton is larger than {max_bytes} bytes (at {relative})")
        data = path.read_bytes()
        binary = _is_binary(data)
        if not binary and not _matches(relative, copy_without_templating):
            try:
                text = render_text(
                    data.decode("utf-8"), context, blocks=True, max_chars=budget, seconds=FILE_RENDER_SECONDS
                )
            except ExpressionError as exc:
                raise WorkspaceError(f"{relative}: {exc}") from exc
            data = text.encode("utf-8")
        if len(data) > budget:
            raise WorkspaceError(f"the rendered skeleton is larger than {max_bytes} bytes (at {relative})")
        budget -= len(data)
        _write(target_root, output_path, data, path.stat().st_mode)
        written[output_path] = RenderedFile(path=output_path, size=len(data), binary=binary)
    return [written[key] for key in sorted(written)]


def plain_copy(
    source_dir: Path, target_dir: Path, *, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES
) -> list[RenderedFile]:
    """Copy a folder as it is (fetch:plain), with the same path checks and limits as render_skeleton."""
    target_root = Path(target_dir)
    target_root.mkdir(parents=True, exist_ok=True)
    copied = []
    budget = max_bytes
    for relative, path in _source_files(Path(source_dir), max_files):
        data = path.read_bytes()
        if len(data) > budget:
            raise WorkspaceError(f"the folder is larger than {max_bytes} bytes (at {relative})")
        budget -= len(data)
        _write(target_root, relative, data, path.stat().st_mode)
        copied.append(RenderedFile(path=relative, size=len(data), binary=_is_binary(data)))
    return copied


def tree_snapshot(directory: Path, *, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES) -> dict[str, bytes]:
    """Every file under a folder as {relative path: content}, for dry-run display and diffs. Skips `.git`."""
    root = Path(directory)
    if not root.exists():
        return {}
    snapshot: dict[str, bytes] = {}
    total = 0
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(name for name in dirnames if name != ".git" and not Path(folder, name).is_symlink())
        for name in sorted(filenames):
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            total += len(data)
            if len(snapshot) >= max_files or total > max_bytes:
                raise WorkspaceError(f"{directory} holds more than {max_files} files or {max_bytes} bytes")
            snapshot[path.relative_to(root).as_posix()] = data
    return snapshot
