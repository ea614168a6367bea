"""catalog:register (read catalog-info.yaml from the new repository and upsert it) and catalog:update."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model

from catalog.descriptors import validate_entity
from catalog.models import Entity
from catalog.refs import InvalidRef, parse_ref, ref_of
from catalog.services import CatalogError, entity_update, entity_upsert_descriptor
from integrations.git import GitError, fetch_files
from integrations.github import GitHubError
from scaffolder.definitions import DefinitionError, load_yaml_documents
from scaffolder.steps.base import StepContext, StepError, register

_GITHUB_BLOB = re.compile(r"^(https?://[^/]+/[^/]+/[^/]+)/(?:blob|tree)/([^/]+)/?$")


def _actor(ctx: StepContext):
    username = ctx.user.get("username")
    return get_user_model().objects.filter(username=username).first() if username else None


def _read_catalog_file(url: str, path: str) -> tuple[str, str]:
    """(text, where) of path in the repository at url: a local bare repository or a GitHub `.../blob/<branch>`."""
    path = path.lstrip("/") or "catalog-info.yaml"
    token, ref, remote = None, None, url
    match = _GITHUB_BLOB.match(url)
    if match:
        from scaffolder.steps.github import github_client

        remote, ref = match.group(1) + ".git", match.group(2)
        try:
            token = github_client().git_remote(remote).token
        except GitHubError as exc:
            raise StepError(str(exc)) from exc
    try:
        with fetch_files(remote, ref=ref, paths=[path], token=token) as checkout:
            if not checkout.exists(path):
                raise StepError(f"the repository has no {path}")
            return checkout.read_text(path), f"{url}/{path}"
    except GitError as exc:
        raise StepError(f"reading {path} from {url}: {exc}", retryable=True) from exc


def _dry_run_descriptor(ctx: StepContext, path: str) -> list[Any]:
    """In a dry run the repository does not exist: read the file from the rendered workspace instead."""
    relative = path.lstrip("/") or "catalog-info.yaml"
    candidates = [ctx.workspace / relative] + [child / relative for child in sorted(ctx.workspace.iterdir())]
    for candidate in candidates:
        if candidate.is_file() and not candidate.is_symlink():
            return load_yaml_documents(candidate.read_text(encoding="utf-8"))
    return []


@register(
    "catalog:register",
    input_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "repoContentsUrl": {"type": "string", "minLength": 1},
            "catalogInfoPath": {"type": "string"},
            "catalogInfoUrl": {"type": "string"},
            "optional": {"type": "boolean"},
        },
        "anyOf": [{"required": ["repoContentsUrl"]}, {"required": ["catalogInfoUrl"]}],
    },
    output_keys=("entityRef", "catalogInfoUrl"),
    description="Read catalog-info.yaml from the new repository and add its entities to the catalog.",
    side_effects=True,
)
def catalog_register(ctx: StepContext, step_input: dict[str, Any]) -> dict[str, Any]:
    url = step_input.get("repoContentsUrl") or step_input["catalogInfoUrl"]
    path = step_input.get("catalogInfoPath") or "/catalog-info.yaml"
    if ctx.dry_run:
        try:
            documents = _dry_run_descriptor(ctx, path)
        except DefinitionError as exc:
            raise StepError(f"{path}: {exc}") from exc
        refs = []
        for document in documents:
            problems = validate_entity(document)
            if problems:
                raise StepError(f"{path} would not register: {'; '.join(problems)}")
            refs.append(str(ref_of(document)))
        ctx.log("info", f"dry run: would register {', '.join(refs) or 'the entities of ' + path}")
        return {"entityRef": refs[0] if refs else "", "catalogInfoUrl": f"{url}{path}"}
    text, where = _read_catalog_file(url, path)
    try:
        documents = load_yaml_documents(text)
    except DefinitionError as exc:
        raise StepError(f"{where}: {exc}") from exc
    refs = []
    actor = _actor(ctx)
    for document in documents:
        try:
            ref = str(ref_of(document))
        except (InvalidRef, TypeError, AttributeError) as exc:
            raise StepError(f"{where}: an entity without a valid kind and name: {exc}") from exc
        existing = Entity.objects.filter(ref=ref).only("source_file").first()
        if existing is not None and existing.source_file != where:
            raise StepError(f"{ref} is already in the catalog (from {existing.source_file or 'another source'})")
        try:
            entity_upsert_descriptor(data=document, actor=actor, source_file=where)
        except CatalogError as exc:
            raise StepError(f"{where}: {exc.message}") from exc
        refs.append(ref)
    if not refs:
        raise StepError(f"{where} holds no entity")
    ctx.log("info", f"registered {', '.join(refs)}")
    return {"entityRef": refs[0], "catalogInfoUrl": where}


@register(
    "catalog:update",
    input_schema={
        "type": "object",
        "required": ["entityRef", "changes"],
        "additionalProperties": False,
        "properties": {"entityRef": {"type": "string", "minLength": 3}, "changes": {"type": "object"}},
    },
    output_keys=("entityRef",),
    description="Change an entity's lifecycle, annotations, labels, tags, owner or properties.",
    side_effects=True,
)
def catalog_update(ctx: StepContext, step_input: dict[str, Any]) -> dict[str, Any]:
    try:
        ref = str(parse_ref(step_input["entityRef"]))
    except InvalidRef as exc:
        raise StepError(f"entityRef: {exc}") from exc
    entity = Entity.objects.filter(ref=ref.lower()).first()
    if entity is None:
        raise StepError(f"{step_input['entityRef']} is not in the catalog")
    changes = dict(step_input["changes"])
    for key in ("annotations", "labels"):
        if isinstance(changes.get(key), dict):  # an empty value removes the key rather than storing ""
            changes[key] = {name: (value if value != "" else None) for name, value in changes[key].items()}
    if ctx.dry_run:
        ctx.log("info", f"dry run: would change {', '.join(sorted(changes))} of {entity.display_ref}")
        return {"entityRef": entity.ref}
    try:
        entity_update(actor=_actor(ctx), entity=entity, changes=changes)
    except CatalogError as exc:
        raise StepError(f"{entity.display_ref}: {exc.message}") from exc
    ctx.log("info", f"changed {', '.join(sorted(changes))} of {entity.display_ref}")
    return {"entityRef": entity.ref}
