"""Ingestion: read descriptor files from a location, follow its Location entities, and upsert what they describe.

One refresh reads every file the location reaches, then writes. A document that fails (bad YAML, broken rules,
duplicate of another location's entity) is reported with its file and line and changes nothing; the good documents
of the same file go in. Entities the location no longer yields are marked orphaned, never deleted, and a source
that suddenly yields nothing waits for a person to confirm before anything is marked.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.descriptors import ParsedDocument, load_documents
from catalog.models import Location, LocationProblem
from catalog.placeholders import UnsafeTarget, resolve_placeholders, resolve_target
from catalog.refs import InvalidRef, ref_of
from catalog.safe_urls import fetch_remote_text
from catalog.services import CatalogError, DescriptorInput, entities_upsert, entity_mark_orphaned
from integrations.git import Checkout, GitError, fetch_files
from rbac.services import audit_record

logger = logging.getLogger(__name__)

MAX_FILES_PER_REFRESH = 5000
MAX_LOCATION_DEPTH = 10


@dataclass
class DocumentResult:
    """What happened to one document: created, updated, unchanged, error; or a warning about a file."""

    file: str
    document: int | None
    line: int | None
    ref: str
    outcome: str
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome == "error"

    def describe(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
        if self.document:
            where += f" (document {self.document})"
        text = f"{self.outcome:<9} {where}"
        if self.ref:
            text += f" {self.ref}"
        if self.message:
            text += f": {self.message}"
        return text


@dataclass
class IngestReport:
    location: Location | None
    results: list[DocumentResult] = field(default_factory=list)
    orphaned: int = 0
    needs_confirmation: bool = False
    source_error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.source_error) or any(result.failed for result in self.results)

    def count(self, outcome: str) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    def summary(self) -> str:
        if self.source_error:
            return f"could not read the location: {self.source_error}"
        parts = [f"{self.count(o)} {o}" for o in ("created", "updated", "unchanged", "error", "warning")]
        text = ", ".join(parts)
        if self.orphaned:
            text += f", {self.orphaned} orphaned"
        if self.needs_confirmation:
            text += " - the source yielded nothing; confirm to mark its entities orphaned"
        return text


# --- reading sources -----------------------------------------------------------------------------------------------


@dataclass
class Source:
    """What one refresh reads: a tree to read relative files from (or none), and the files to start from."""

    tree: Checkout | None
    roots: list[tuple[str, str | None]]  # (file label, content when already read, e.g. uploads and GitHub files)
    base_url: str = ""  # for links to files: a repository's web URL
    # A folder scan reads every *.yaml; files that are not descriptors at all (an OpenAPI file, CI config) are
    # skipped there with a warning. A file that was named on purpose must be a descriptor.
    skip_non_descriptors: bool = False


def _allowed_hosts() -> list[str]:
    return list(getattr(settings, "CATALOG_ALLOWED_HOSTS", []))


def _allowed_networks() -> list[str]:
    return list(getattr(settings, "CATALOG_ALLOWED_NETWORKS", []))


def _fetch_url() -> Callable[[str], str] | None:
    hosts = _allowed_hosts()
    if not hosts:
        return None

    def fetch(url: str) -> str:
        return fetch_remote_text(
            url,
            allowed_hosts=hosts,
            allowed_networks=_allowed_networks(),
            max_bytes=settings.CATALOG_MAX_FILE_BYTES,
            timeout=10.0,
        )

    return fetch


def _git_token_for(url: str) -> str | None:
    """The GitHub token, only for URLs on the configured GitHub host; never sent anywhere else."""
    token = getattr(settings, "GITHUB_TOKEN", "")
    host = getattr(settings, "GITHUB_GIT_HOST", "github.com")
    if token and url.startswith(f"https://{host}/"):
        return token
    return None


@contextmanager
def open_source(location: Location) -> Iterator[Source]:
    """Read the location's source. Raises CatalogError with a readable message when it cannot be read."""
    if location.type == Location.Type.UPLOAD:
        yield Source(tree=None, roots=[(location.target, location.content)])
    elif location.type == Location.Type.PATH:
        root = Path(location.target)
        if not root.is_dir():
            raise CatalogError(f"The folder {location.target} does not exist.")
        tree = Checkout(root=root.resolve(), head_sha="")
        if location.path:
            roots = [(location.path, None)]
        else:
            roots = [(path, None) for path in tree.glob("**/*.yaml") + tree.glob("**/*.yml")]
        yield Source(tree=tree, roots=roots, skip_non_descriptors=not location.path)
    elif location.type == Location.Type.URL:
        try:
            with fetch_files(
                location.target,
                ref=location.branch or None,
                token=_git_token_for(location.target),
                max_bytes=settings.CATALOG_MAX_REPOSITORY_BYTES,
            ) as tree:
                roots = [(location.path or "catalog-info.yaml", None)]
                yield Source(tree=tree, roots=roots, base_url=location.target)
        except GitError as exc:
            raise CatalogError(f"Could not read the repository: {exc}") from exc
    elif location.type == Location.Type.GITHUB_ORG:
        from integrations.github import GitHubError
        from integrations.github.config import client_from_config

        try:
            client = client_from_config()
            files = client.list_catalog_files(org=location.target, path=location.path or "catalog-info.yaml")
        except GitHubError as exc:
            raise CatalogError(f"Could not list the organisation's repositories: {exc}") from exc
        yield Source(tree=None, roots=[(file.html_url, file.content) for file in files])
    else:
        raise CatalogError(f"Unknown location type {location.type!r}.")


# --- collecting and writing documents ------------------------------------------------------------------------------


@dataclass
class _Collected:
    documents: list[tuple[str, ParsedDocument]] = field(default_factory=list)
    problems: list[DocumentResult] = field(default_factory=list)
    unreadable_files: set[str] = field(default_factory=set)
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    file_hashes: dict[str, str] = field(default_factory=dict)


def _collect(source: Source) -> _Collected:
    """Read the root files and every file their Location entities point at (relative targets, inside the tree)."""
    collected = _Collected()
    queue: deque[tuple[str, str | None, int]] = deque((label, content, 0) for label, content in source.roots)
    seen: set[str] = set()
    while queue:
        label, content, depth = queue.popleft()
        if label in seen:
            continue
        seen.add(label)
        if len(seen) > MAX_FILES_PER_REFRESH:
            collected.problems.append(
                DocumentResult(label, None, None, "", "error", f"more than {MAX_FILES_PER_REFRESH} files; stopped")
            )
            break
        if content is None:
            try:
                content = source.tree.read_text(label, max_bytes=settings.CATALOG_MAX_FILE_BYTES)
            except GitError as exc:
                collected.unreadable_files.add(label)
                collected.problems.append(DocumentResult(label, None, None, "", "error", str(exc)))
                continue
        collected.digest.update(label.encode() + b"\0" + content.encode() + b"\0")
        collected.file_hashes[label] = _sha256(content)
        for document in load_documents(content, source=label, max_bytes=settings.CATALOG_MAX_FILE_BYTES):
            collected.documents.append((label, document))
            if document.data is None:
                collected.unreadable_files.add(label)
                continue
            if document.data.get("kind") != "Location" or source.tree is None:
                continue
            for target in _location_targets(document.data):
                try:
                    resolved = resolve_target(label, target)
                except UnsafeTarget as exc:
                    collected.problems.append(
                        DocumentResult(label, document.index + 1, document.line, "", "error", str(exc))
                    )
                    continue
                if resolved.startswith(("http://", "https://")):
                    collected.problems.append(
                        DocumentResult(
                            label,
                            document.index + 1,
                            document.line,
                            "",
                            "warning",
                            f"target {target} is another repository; register it as a location of its own",
                        )
                    )
                elif depth + 1 > MAX_LOCATION_DEPTH:
                    collected.problems.append(
                        DocumentResult(label, document.index + 1, document.line, "", "error", "locations nest too deep")
                    )
                elif not source.tree.exists(resolved):
                    collected.problems.append(
                        DocumentResult(
                            label, document.index + 1, document.line, "", "warning", f"target {target} does not exist"
                        )
                    )
                else:
                    queue.append((resolved, None, depth + 1))
    return collected


def _sha256(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def _same_files_as_last_time(source: Source, location: Location) -> bool:
    """Every file the last clean refresh read is still there, byte for byte, and nobody edited the entities since:
    then nothing can have changed, and the files need not even be parsed."""
    previous = location.file_hashes or {}
    if not previous or location.status not in (Location.Status.OK, Location.Status.WARNING):
        return False
    if location.last_refreshed_at is None or not {label for label, _ in source.roots} <= previous.keys():
        return False
    given = dict(source.roots)
    for label, expected in previous.items():
        content = given.get(label)
        if content is None:
            if source.tree is None:
                return False
            try:
                content = source.tree.read_text(label, max_bytes=settings.CATALOG_MAX_FILE_BYTES)
            except GitError:
                return False
        if _sha256(content) != expected:
            return False
    return not location.entities.filter(updated_at__gt=location.last_refreshed_at).exists()


def _location_targets(data: dict) -> list[str]:
    spec = data.get("spec") or {}
    targets = list(spec.get("targets") or [])
    if spec.get("target"):
        targets.insert(0, spec["target"])
    return [target for target in targets if isinstance(target, str)]


def _reader(source: Source, label: str) -> Callable[[str], str]:
    def read_relative(path: str) -> str:
        if source.tree is None:
            raise CatalogError("relative files can only be read from a repository or folder location")
        try:
            return source.tree.read_text(resolve_target(label, path), max_bytes=settings.CATALOG_MAX_FILE_BYTES)
        except (GitError, UnsafeTarget) as exc:
            raise CatalogError(str(exc)) from exc

    return read_relative


WRITE_BATCH = 500


def _write_documents(
    collected: _Collected, source: Source, location: Location | None, actor
) -> tuple[list[DocumentResult], set[str]]:
    """Upsert every good document in batches; returns the results and the refs this refresh accounts for."""
    results: list[DocumentResult] = []
    accounted: set[str] = set()
    pending: list[tuple[str, ParsedDocument, str, DescriptorInput]] = []
    fetch_url = _fetch_url()
    for label, document in collected.documents:
        number = document.index + 1
        if document.data is None:
            results.append(DocumentResult(label, number, document.line, "", "error", document.error or "unreadable"))
            continue
        try:
            ref = str(ref_of(document.data))
        except (InvalidRef, TypeError, AttributeError, KeyError):
            ref = ""
        if ref:
            accounted.add(ref)  # a broken new version keeps the old entity rather than orphaning it
        if source.skip_non_descriptors and "apiVersion" not in document.data and "kind" not in document.data:
            message = "not a catalog descriptor (no apiVersion or kind); skipped"
            results.append(DocumentResult(label, number, document.line, "", "warning", message))
            continue
        data, warnings = resolve_placeholders(document.data, read_relative=_reader(source, label), fetch_url=fetch_url)
        item = DescriptorInput(data, source_file=label, source_line=document.line, warnings=warnings)
        pending.append((label, document, ref, item))

    for start in range(0, len(pending), WRITE_BATCH):
        batch = pending[start : start + WRITE_BATCH]
        outcomes = entities_upsert(items=[item for *_, item in batch], actor=actor, location=location, audit=False)
        for (label, document, ref, item), outcome in zip(batch, outcomes, strict=True):
            number = document.index + 1
            if isinstance(outcome, CatalogError):
                results.append(DocumentResult(label, number, document.line, ref, "error", outcome.message))
                continue
            verdict = "created" if outcome.created else "updated" if outcome.changed else "unchanged"
            results.append(DocumentResult(label, number, document.line, ref, verdict))
            for warning in item.warnings:
                results.append(DocumentResult(label, number, document.line, ref, "warning", warning))
    return results, accounted


def _store_problems(location: Location, results: list[DocumentResult]) -> None:
    LocationProblem.objects.filter(location=location).delete()
    LocationProblem.objects.bulk_create(
        [
            LocationProblem(
                location=location,
                severity=result.outcome,
                file=result.file,
                document=result.document,
                line=result.line,
                entity_ref=result.ref,
                message=result.message,
            )
            for result in results
            if result.outcome in ("error", "warning")
        ]
    )


def _report_unchanged(location: Location) -> IngestReport:
    """Nothing to write: every entity stands as it was, and the stored problems still apply."""
    report = IngestReport(location=location)
    report.results = [
        DocumentResult(p.file, p.document, p.line, p.entity_ref, p.severity, p.message) for p in location.problems.all()
    ]
    for ref, source_file, source_line in location.entities.filter(orphaned=False).values_list(
        "ref", "source_file", "source_line"
    ):
        report.results.append(DocumentResult(source_file, None, source_line, ref, "unchanged"))
    Location.objects.filter(pk=location.pk).update(last_refreshed_at=timezone.now())
    location.refresh_from_db()
    return report


def location_refresh(*, location: Location, actor=None, confirm_empty: bool = False) -> IngestReport:
    """Read the location again and bring its entities in line with what it says now."""
    report = IngestReport(location=location)
    try:
        with open_source(location) as source:
            if not confirm_empty and _same_files_as_last_time(source, location):
                return _report_unchanged(location)
            collected = _collect(source)
            results, accounted = _write_documents(collected, source, location, actor)
    except CatalogError as exc:
        report.source_error = exc.message
        Location.objects.filter(pk=location.pk).update(
            status=Location.Status.ERROR, message=exc.message, last_refreshed_at=timezone.now()
        )
        location.refresh_from_db()
        return report
    report.results = collected.problems + results
    has_entities = location.entities.exists()
    yielded_nothing = not any(result.ref for result in results)
    with transaction.atomic():
        if yielded_nothing and has_entities and not confirm_empty:
            report.needs_confirmation = True
            status = Location.Status.NEEDS_CONFIRMATION
            message = (
                f"The source yielded no entities, but {location.entities.count()} came from it before. Nothing was "
                "changed; confirm to mark them orphaned."
            )
        else:
            # A file with any failed document orphans nothing: the broken document may be the old entity's.
            failed_files = collected.unreadable_files | {result.file for result in results if result.failed}
            # The difference is taken here rather than as NOT IN (every ref of the location) in SQL.
            missing = [
                pk
                for pk, ref, source_file in location.entities.values_list("pk", "ref", "source_file")
                if ref not in accounted and source_file not in failed_files
            ]
            orphans = list(location.entities.filter(pk__in=missing).only("pk", "ref", "orphaned"))
            report.orphaned = entity_mark_orphaned(entities=orphans, actor=actor)
            status = (
                Location.Status.ERROR
                if report.failed
                else Location.Status.WARNING
                if report.count("warning")
                else Location.Status.OK
            )
            message = report.summary()
        _store_problems(location, report.results)
        Location.objects.filter(pk=location.pk).update(
            status=status,
            message=message,
            source_hash=collected.digest.hexdigest(),
            file_hashes=collected.file_hashes,
            last_refreshed_at=timezone.now(),
        )
        if report.count("created") or report.count("updated") or report.orphaned:
            audit_record(
                actor=actor,
                verb="location.refresh",
                target=location,
                changes={o: report.count(o) for o in ("created", "updated", "error")} | {"orphaned": report.orphaned},
            )
    location.refresh_from_db()
    return report
