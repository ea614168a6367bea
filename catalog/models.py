"""The catalog: blueprints (entity kinds as data), entities, relations between them, and where they came from."""

from django.conf import settings
from django.db import models


class Blueprint(models.Model):
    """An entity kind. Backstage's kinds ship as builtin blueprints; platform teams add their own as data."""

    identifier = models.SlugField(max_length=63, unique=True, help_text="Lowercase kind name, e.g. `component`.")
    title = models.CharField(max_length=100, help_text="The kind as people write it, e.g. `Component`.")
    icon = models.CharField(max_length=32, blank=True, default="box")
    description = models.TextField(blank=True)
    schema = models.JSONField(default=dict, blank=True, help_text="JSON Schema for the entities' properties (spec).")
    relations = models.JSONField(
        default=list, blank=True, help_text="Relation definitions: identifier, title, target, many, required."
    )
    builtin = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Location(models.Model):
    """Where descriptors come from: a git repository and path, a GitHub organisation, or an uploaded file."""

    class Type(models.TextChoices):
        URL = "url", "Git repository"
        GITHUB_ORG = "github-org", "GitHub organisation"
        UPLOAD = "upload", "Uploaded file"
        PATH = "path", "Local folder"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the first refresh"
        OK = "ok", "Up to date"
        WARNING = "warning", "Up to date, with warnings"
        ERROR = "error", "Failed"
        NEEDS_CONFIRMATION = "needs_confirmation", "Waiting for a person to confirm"

    type = models.CharField(max_length=16, choices=Type.choices)
    target = models.CharField(max_length=2000, help_text="Repository URL, organisation, file name or folder.")
    path = models.CharField(max_length=500, blank=True, default="catalog-info.yaml", help_text="File in the repo.")
    branch = models.CharField(max_length=200, blank=True)
    content = models.TextField(blank=True, help_text="The uploaded file itself (upload locations only).")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING)
    message = models.TextField(blank=True, help_text="What the last refresh said, in words.")
    source_hash = models.CharField(max_length=64, blank=True, help_text="Hash of everything read last time.")
    file_hashes = models.JSONField(default=dict, blank=True, help_text="sha256 of each file the last refresh read.")
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["type", "target", "path", "branch"], name="catalog_location_unique_source")
        ]

    def __str__(self) -> str:
        if self.type == self.Type.URL and self.path:
            return f"{self.target} ({self.path})"
        return self.target


class LocationProblem(models.Model):
    """An error or warning from the last refresh of a location, pinned to a file, document and line."""

    class Severity(models.TextChoices):
        ERROR = "error", "Error"
        WARNING = "warning", "Warning"

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="problems")
    severity = models.CharField(max_length=8, choices=Severity.choices)
    file = models.CharField(max_length=2000, blank=True)
    document = models.PositiveIntegerField(null=True, blank=True, help_text="1-based document number in the file.")
    line = models.PositiveIntegerField(null=True, blank=True)
    entity_ref = models.CharField(max_length=400, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{self.severity}: {where}: {self.message}"


class Entity(models.Model):
    """A thing in the catalog: a service, API, team, person, database... of one blueprint."""

    blueprint = models.ForeignKey(Blueprint, on_delete=models.PROTECT, related_name="entities")
    ref = models.CharField(max_length=400, unique=True, help_text="`kind:namespace/name`, lowercase: the identity.")
    kind = models.CharField(max_length=63, help_text="As written in the descriptor, e.g. `Component`.")
    namespace = models.CharField(max_length=63, default="default")
    name = models.CharField(max_length=63)
    title = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    owner_ref = models.CharField(max_length=400, blank=True, db_index=True)
    lifecycle = models.CharField(max_length=63, blank=True, db_index=True)
    type = models.CharField(max_length=63, blank=True, db_index=True)
    tags = models.JSONField(default=list, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)
    properties = models.JSONField(default=dict, blank=True, help_text="The spec, checked against the blueprint.")
    descriptor = models.JSONField(default=dict, blank=True, help_text="The descriptor as it was read.")
    api_version = models.CharField(max_length=100, blank=True, default="backstage.io/v1alpha1")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="entities")
    source_file = models.CharField(max_length=2000, blank=True)
    source_line = models.PositiveIntegerField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    orphaned = models.BooleanField(default=False, help_text="Its location no longer yields it.")
    schema_errors = models.JSONField(default=list, blank=True, help_text="Where it no longer fits its blueprint.")
    warnings = models.JSONField(default=list, blank=True)
    search_document = models.TextField(blank=True, help_text="Names, title, description and tags, for search.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "namespace", "name"]
        verbose_name_plural = "entities"
        indexes = [
            models.Index(fields=["blueprint", "namespace", "name"]),
            # The catalog index's default order, so a page is read from the index.
            models.Index(fields=["kind", "namespace", "name"], name="catalog_entity_kind_ns_name"),
            # The filter selects' distinct values come from this index alone.
            models.Index(fields=["type", "lifecycle", "namespace", "owner_ref"], name="catalog_entity_facets"),
            models.Index(fields=["location"]),
        ]

    def __str__(self) -> str:
        return self.display_ref

    @property
    def display_ref(self) -> str:
        """The reference as people read it: namespace is left out when it is `default`."""
        if self.namespace == "default":
            return f"{self.kind}:{self.name}"
        return f"{self.kind}:{self.namespace}/{self.name}"

    @property
    def display_name(self) -> str:
        return self.title or self.name


class Relation(models.Model):
    """A directed relation from `source`. Only the forward direction is stored; pages and the API show the inverse
    (ownerOf for ownedBy...) by reading relations whose target is the entity. A target that is not in the catalog yet
    keeps its reference and resolves when it arrives."""

    source = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="relations_out")
    type = models.CharField(max_length=63)
    target_ref = models.CharField(max_length=400, db_index=True)
    target = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.SET_NULL, related_name="relations_in")

    class Meta:
        ordering = ["type", "target_ref"]
        constraints = [models.UniqueConstraint(fields=["source", "type", "target_ref"], name="catalog_relation_unique")]
        indexes = [models.Index(fields=["target", "type"])]

    def __str__(self) -> str:
        return f"{self.source.ref} {self.type} {self.target_ref}"
