"""Actions (golden paths and day-2 operations, stored as parsed definitions) and their runs.

Runs follow NetBox's job + log pattern: ActionRun is the job, RunStep one row per step with its checkpoint, and
RunLogLine the log. A run's lease (lease_owner, lease_expires_at) says which worker holds it and until when; a
worker killed with SIGKILL stops renewing it, and the sweeper hands the run to another worker.
"""

from django.conf import settings
from django.db import models


class Action(models.Model):
    class Operation(models.TextChoices):
        CREATE = "create", "Create"
        DAY_2 = "day-2", "Day-2"
        DELETE = "delete", "Delete"

    class Source(models.TextChoices):
        SHIPPED = "shipped", "Shipped with Portico"
        API = "api", "Added through the API"
        LOCATION = "location", "From a catalog Template"

    identifier = models.SlugField(max_length=63, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    blueprint = models.ForeignKey("catalog.Blueprint", on_delete=models.PROTECT, related_name="actions")
    operation = models.CharField(max_length=8, choices=Operation.choices)
    definition = models.JSONField(help_text="The definition as written (YAML/JSON), parsed again before each run.")
    source = models.CharField(max_length=8, choices=Source.choices)
    source_path = models.CharField(
        max_length=1000, blank=True, help_text="Shipped: the golden path folder. Location: the catalog entity ref."
    )
    approval_required = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class ActionRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    action = models.ForeignKey(Action, on_delete=models.PROTECT, related_name="runs")
    target_entity = models.ForeignKey(
        "catalog.Entity", null=True, blank=True, on_delete=models.SET_NULL, related_name="action_runs"
    )
    target_ref = models.CharField(max_length=400, blank=True, help_text="Kept when the entity is deleted.")
    inputs = models.JSONField(default=dict, blank=True, help_text="The cleaned form values; secrets never stored.")
    definition = models.JSONField(default=dict, blank=True, help_text="The action's definition when requested.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="action_runs"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="approved_runs"
    )
    cancel_requested = models.BooleanField(default=False)
    dry_run = models.BooleanField(default=False)
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    outputs = models.JSONField(default=dict, blank=True, help_text="links, text, and the dry run's files and diffs.")
    error = models.TextField(blank=True)
    workspace = models.CharField(max_length=1000, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="How many times a worker claimed the run.")
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.action} #{self.pk}"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class RunStep(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    run = models.ForeignKey(ActionRun, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    step_id = models.CharField(max_length=100)
    name = models.CharField(max_length=300)
    action = models.CharField(max_length=100)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    checkpoint = models.JSONField(default=dict, blank=True, help_text="What the step has done so far.")
    output = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "step_id"], name="scaffolder_runstep_unique_id")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.step_id}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class RunLogLine(models.Model):
    run = models.ForeignKey(ActionRun, on_delete=models.CASCADE, related_name="log_lines")
    step = models.ForeignKey(RunStep, null=True, blank=True, on_delete=models.CASCADE, related_name="log_lines")
    level = models.CharField(max_length=8, default="info")
    message = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.level}: {self.message[:80]}"
