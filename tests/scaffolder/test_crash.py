"""A real Celery worker is SIGKILLed in the middle of a run; the sweeper hands the run to a second worker, which
finishes it with exactly one repository, one GitOps commit and one catalog entity.

The worker is a separate process, so it must see the test database: this needs PostgreSQL (DATABASE_URL). On the
in-memory SQLite test database it is skipped locally and fails in CI.
"""

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from catalog.models import Entity
from scaffolder.definitions import GOLDEN_PATHS_DIR
from scaffolder.models import Action, ActionRun, RunStep
from scaffolder.services import actions_sync_shipped, run_request
from scaffolder.tasks import recover_stale_runs
from tests.helpers import skip_unless_available
from tests.scaffolder.conftest import SERVICE_INPUTS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("scaffolder-worker")]

WAIT_SECONDS = 4
LEASE_SECONDS = 2


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        skip_unless_available("the crash test needs PostgreSQL (DATABASE_URL): a worker cannot see in-memory SQLite")
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_worker(env: dict, name: str, log: Path) -> subprocess.Popen:
    celery = Path(sys.executable).with_name("celery")
    return subprocess.Popen(
        [
            str(celery),
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{name}@%h",
            "--loglevel=INFO",
        ],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[2],
    )


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wait_for(predicate, timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tails = "\n".join(log.read_text(errors="replace")[-3000:] for log in logs if log.exists())
    pytest.fail(f"timed out waiting for {what}\n{tails}")


@pytest.fixture
def slow_service_action(db):
    """The python-service golden path with a debug:wait step between creating the repository and the GitOps
    commit: a step that really blocks, so the worker can be killed while it runs."""
    actions_sync_shipped()
    shipped = Action.objects.get(identifier="python-service")
    definition = copy.deepcopy(shipped.definition)
    definition["metadata"]["name"] = "python-service-slow"
    steps = definition["spec"]["steps"]
    position = next(index for index, step in enumerate(steps) if step["id"] == "gitops")
    steps.insert(position, {"id": "wait", "name": "Wait", "action": "debug:wait", "input": {"seconds": WAIT_SECONDS}})
    return Action.objects.create(
        identifier="python-service-slow",
        title="Slow service",
        blueprint=shipped.blueprint,
        operation=shipped.operation,
        definition=definition,
        source=Action.Source.SHIPPED,
        source_path=str(GOLDEN_PATHS_DIR / "python-service"),
    )


def test_sigkilled_worker_run_completes_once(member, team, slow_service_action, tmp_path, monkeypatch):
    repos = tmp_path / "repos"
    monkeypatch.setenv("SCAFFOLDER_REPOS_DIR", str(repos))
    monkeypatch.setenv("SCAFFOLDER_RUN_LEASE_SECONDS", str(LEASE_SECONDS))
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "portal.settings_test"}
    logs = [tmp_path / "worker1.log", tmp_path / "worker2.log"]
    # Two workers from the start (each takes seconds to boot): whichever takes the run is killed, the other finishes it.
    workers = [_start_worker(env, "first", logs[0]), _start_worker(env, "second", logs[1])]
    try:
        run = run_request(actor=member, action=slow_service_action, inputs=SERVICE_INPUTS)
        _wait_for(
            lambda: RunStep.objects.filter(run=run, step_id="wait", status=RunStep.Status.RUNNING).exists(),
            60,
            "a worker to reach the wait step",
            logs,
        )
        holder_pid = int(ActionRun.objects.get(pk=run.pk).lease_owner.split(":")[1])
        holder = next(worker for worker in workers if worker.pid == holder_pid)
        _stop(holder, signal.SIGKILL)
        assert ActionRun.objects.get(pk=run.pk).status == ActionRun.Status.RUNNING
        time.sleep(LEASE_SECONDS + 0.5)  # the dead worker's lease runs out
        assert recover_stale_runs() == 1
        _wait_for(lambda: ActionRun.objects.get(pk=run.pk).finished, 60, "the other worker to finish the run", logs)
    finally:
        for worker in workers:
            _stop(worker, signal.SIGKILL)
    run.refresh_from_db()
    assert run.status == ActionRun.Status.SUCCEEDED, run.error
    assert run.attempts == 2
    assert sorted(path.name for path in repos.iterdir()) == ["gitops.git", "payments-api.git"]
    for repo, expected in (("payments-api.git", 1), ("gitops.git", 1)):
        commits = subprocess.run(
            ["git", "--git-dir", str(repos / repo), "rev-list", "--count", "main"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert commits == str(expected), repo
    assert Entity.objects.filter(name="payments-api").count() == 1
    assert run.log_lines.filter(message__startswith="resuming after an interrupted attempt").exists()
