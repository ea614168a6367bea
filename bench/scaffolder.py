"""Scaffolder benchmark: the create-service golden path end to end on the embedded default, with real Celery workers.

    python bench/scaffolder.py [--runs 10] [--burst 20] [--keep]

Runs against the server in DATABASE_URL, in a database of its own (its name + "_scaffolder_bench", created and
dropped here), with the broker in REDIS_URL (else the embedded SQLite broker, which polls once a second) on a queue
of its own. Repositories go to a temporary folder.

1. One worker process: `--runs` runs submitted one after another; time from submit (the run stored and enqueued)
   to succeeded, as the person watching the run page waits for it. Target: median under 3 s.
2. Two worker processes: `--burst` runs submitted at once; all must succeed with exactly one repository each, one
   commit in each repository and one GitOps commit per run.

Prints readable figures, then one line of JSON with the same figures.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _support import (  # noqa: E402  (bench/ is on the path when run as a script)
    bench_database_url,
    drop_postgres_database,
    is_postgres,
    recreate_postgres_database,
)


def start_worker(name: str, queue: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        env=dict(os.environ),
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def wait_finished(run_ids: list[int], timeout: float) -> None:
    from scaffolder.models import ActionRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not ActionRun.objects.filter(pk__in=run_ids).exclude(status__in=ActionRun.FINISHED).exists():
            return
        time.sleep(0.02)
    raise SystemExit(f"runs {run_ids} did not finish within {timeout:.0f} s")


def commit_count(repo: Path) -> int:
    output = subprocess.run(
        ["git", "--git-dir", str(repo), "rev-list", "--count", "main"], capture_output=True, text=True, check=True
    )
    return int(output.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database afterwards.")
    args = parser.parse_args()

    url = bench_database_url(os.environ.get("DATABASE_URL", ""), suffix="bench_scaffolder")
    postgres = is_postgres(url)
    if postgres:
        recreate_postgres_database(url)
    repos = Path(tempfile.mkdtemp(prefix="portico-bench-repos-"))
    os.environ["DATABASE_URL"] = url
    os.environ["SCAFFOLDER_REPOS_DIR"] = str(repos)
    os.environ.setdefault("PORTICO_DATA_DIR", tempfile.mkdtemp(prefix="portico-bench-data-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    queue = f"portico-bench-{uuid.uuid4().hex[:8]}"

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from catalog.services import entity_upsert_descriptor
    from portal.celery import app
    from scaffolder.models import ActionRun
    from scaffolder.services import actions_sync_shipped, run_request

    app.conf.task_default_queue = queue  # our enqueues go to the bench workers only
    call_command("migrate", verbosity=0)
    action = {a.identifier: a for a in actions_sync_shipped()}["python-service"]
    user = get_user_model().objects.create_user(username="bench", password="bench")
    for data in (
        {"kind": "Group", "metadata": {"name": "team-bench"}, "spec": {"type": "team", "children": []}},
        {"kind": "User", "metadata": {"name": "bench"}, "spec": {"memberOf": ["team-bench"]}},
    ):
        entity_upsert_descriptor(data={"apiVersion": "backstage.io/v1alpha1", **data})

    def submit(name: str) -> ActionRun:
        inputs = {"name": name, "description": "Benchmark service.", "owner": "group:default/team-bench"}
        return run_request(actor=user, action=action, inputs=inputs)

    logs = Path(tempfile.mkdtemp(prefix="portico-bench-logs-"))
    workers = [start_worker("bench1", queue, logs / "worker1.log")]
    try:
        warmup = submit("svc-warmup")  # the first run pays for the worker's start and imports
        wait_finished([warmup.pk], 120)
        latencies = []
        for number in range(args.runs):
            started = time.perf_counter()
            run = submit(f"svc-seq-{number}")
            wait_finished([run.pk], 60)
            latencies.append(time.perf_counter() - started)
        workers.append(start_worker("bench2", queue, logs / "worker2.log"))
        time.sleep(3)  # let the second worker connect before the burst
        started = time.perf_counter()
        burst = [submit(f"svc-burst-{number}").pk for number in range(args.burst)]
        wait_finished(burst, 300)
        burst_seconds = time.perf_counter() - started
    finally:
        for worker in workers:
            stop_worker(worker)

    runs = ActionRun.objects.all()
    statuses = {status: runs.filter(status=status).count() for status in ActionRun.Status.values}
    service_repos = [path for path in repos.iterdir() if path.name != "gitops.git"]
    total_runs = 1 + args.runs + args.burst
    figures = {
        "database": "postgresql" if postgres else "sqlite",
        "broker": "redis" if os.environ.get("REDIS_URL") else "sqlite",
        "sequential_runs": args.runs,
        "submit_to_succeeded_median_s": round(statistics.median(latencies), 3),
        "submit_to_succeeded_max_s": round(max(latencies), 3),
        "burst_runs": args.burst,
        "burst_workers": 2,
        "burst_total_s": round(burst_seconds, 2),
        "burst_all_succeeded": ActionRun.objects.filter(pk__in=burst, status="succeeded").count() == args.burst,
        "statuses": {key: value for key, value in statuses.items() if value},
        "repositories": len(service_repos),
        "duplicate_repositories": len(service_repos) - len({path.name for path in service_repos}),
        "repositories_with_one_commit": sum(commit_count(path) == 1 for path in service_repos),
        "gitops_commits": commit_count(repos / "gitops.git"),
        "expected_gitops_commits": total_runs,
    }
    print(f"Scaffolder benchmark on {figures['database']} with the {figures['broker']} broker")
    print(
        f"  create-service, one worker, {args.runs} runs: median {figures['submit_to_succeeded_median_s']} s "
        f"submit->succeeded (max {figures['submit_to_succeeded_max_s']} s; target < 3 s)"
    )
    print(
        f"  {args.burst} runs at once, 2 workers: {figures['burst_total_s']} s in total, "
        f"all succeeded: {figures['burst_all_succeeded']}"
    )
    print(
        f"  repositories: {figures['repositories']} (expected {total_runs}), each with one commit: "
        f"{figures['repositories_with_one_commit']}; GitOps commits: {figures['gitops_commits']} "
        f"(expected {total_runs})"
    )
    print(json.dumps(figures))
    if postgres and not args.keep:
        drop_postgres_database(url)


if __name__ == "__main__":
    main()
