"""Writes for locations: register one, confirm an empty refresh, delete one with its entities."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from catalog.models import Entity, Location
from catalog.safe_urls import UnsafeURL, check_remote_url
from catalog.services import CatalogError
from integrations.git import is_safe_url
from rbac.services import audit_record


def _check_repository_url(url: str) -> None:
    allow_local = settings.CATALOG_ALLOW_LOCAL_REPOSITORIES
    if not is_safe_url(url, allow_local=allow_local):
        hint = "" if allow_local else " (local paths and file:// are turned off on this Portico)"
        raise CatalogError(
            "This repository URL is not allowed.", {"target": [f"{url} is not an allowed git URL{hint}."]}
        )
    scheme = urlsplit(url).scheme
    if scheme in ("http", "https"):
        try:
            check_remote_url(
                url, allowed_hosts=settings.CATALOG_ALLOWED_HOSTS, allowed_networks=settings.CATALOG_ALLOWED_NETWORKS
            )
        except UnsafeURL as exc:
            raise CatalogError("This repository URL is not allowed.", {"target": [str(exc)]}) from exc


def _check_path(path: str) -> None:
    if path.startswith("/") or ".." in Path(path).parts or "\x00" in path:
        raise CatalogError(
            "The file path is not allowed.",
            {"path": ["Use a path inside the repository, like catalog-info.yaml or services/api/catalog-info.yaml."]},
        )


def location_register(
    *, actor, type: str, target: str, path: str = "", branch: str = "", content: str = ""
) -> Location:
    """Store a new location. The caller refreshes it (synchronously for uploads, as a task for the others)."""
    target = target.strip()
    path = path.strip()
    if type not in Location.Type.values:
        raise CatalogError(
            f"Unknown location type {type!r}.", {"type": [f"Choose one of {', '.join(Location.Type.values)}."]}
        )
    if not target:
        raise CatalogError("Say where the descriptors are.", {"target": ["This field is required."]})
    if type == Location.Type.URL:
        _check_repository_url(target)
        path = path or "catalog-info.yaml"
    if path:
        _check_path(path)
    if type == Location.Type.UPLOAD:
        if not content.strip():
            raise CatalogError("The file is empty.", {"content": ["Paste or upload a catalog-info.yaml."]})
        if len(content.encode()) > settings.CATALOG_MAX_FILE_BYTES:
            raise CatalogError(
                "The file is too large.", {"content": [f"The limit is {settings.CATALOG_MAX_FILE_BYTES // 1024} KiB."]}
            )
    if type == Location.Type.PATH and not settings.CATALOG_ALLOW_LOCAL_REPOSITORIES:
        raise CatalogError("Local folders are turned off on this Portico.", {"target": ["Use a repository URL."]})
    if (
        type != Location.Type.UPLOAD
        and Location.objects.filter(type=type, target=target, path=path, branch=branch).exists()
    ):
        raise CatalogError("This location is registered already.", {"target": ["It is registered already."]})
    with transaction.atomic():
        if type == Location.Type.UPLOAD:
            # Re-uploading a file of the same name replaces the earlier upload's content.
            location, _ = Location.objects.update_or_create(
                type=type,
                target=target,
                path="",
                branch="",
                defaults={
                    "content": content,
                    "created_by": actor if getattr(actor, "is_authenticated", False) else None,
                },
            )
        else:
            location = Location.objects.create(
                type=type,
                target=target,
                path=path,
                branch=branch,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
        audit_record(actor=actor, verb="location.register", target=location, changes={"type": type, "target": target})
    return location


def location_refresh_later(*, location: Location) -> None:
    """Queue a refresh for after the current transaction commits."""
    from catalog.tasks import refresh_location

    transaction.on_commit(lambda: refresh_location.delay(location.pk))


def location_delete(*, actor, location: Location) -> int:
    """Delete a location and the entities that came from it; returns how many entities went."""
    with transaction.atomic():
        entities = Entity.objects.filter(location=location)
        count = entities.count()
        audit_record(actor=actor, verb="location.delete", target=location, changes={"entities_deleted": count})
        entities.delete()
        location.delete()
    return count
