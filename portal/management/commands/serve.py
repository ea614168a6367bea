"""`manage.py serve`: everything Portico needs, in one foreground process that Ctrl-C stops cleanly.

It migrates, loads the shipped self-service actions, creates the first admin account (printing a generated password
once), loads the demo catalog into an empty database, then runs the web server (gunicorn) and a Celery worker with
the beat scheduler embedded, and stops them all when it is interrupted or when one of them exits.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import BaseCommand, call_command

from portal import services


class Command(BaseCommand):
    help = "Prepare the database and run the web server, a Celery worker and beat in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument(
            "--no-demo", action="store_true", help="Do not load the demo catalog into an empty database."
        )

    def handle(self, *args, host, port, no_demo, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database is up to date.")
        call_command("load_actions", verbosity=1)  # the shipped golden paths, kept in step with their files
        self._ensure_admin()
        if not no_demo:
            call_command("load_demo", verbosity=1)
        processes = self._start(host=host, port=port)
        self.stdout.write(self.style.SUCCESS(f"Portico is running at http://{host}:{port}/ (Ctrl-C stops it)"))
        self._wait(processes)

    def _ensure_admin(self):
        account = services.admin_ensure(
            username=os.environ.get("PORTICO_ADMIN_USERNAME", ""),
            password=os.environ.get("PORTICO_ADMIN_PASSWORD", ""),
            email=os.environ.get("PORTICO_ADMIN_EMAIL", ""),
        )
        if account.created and account.password:
            self.stdout.write(
                self.style.WARNING(
                    f"\nCreated the admin account.\n  username: {account.username}\n  password: {account.password}\n"
                    "This password is shown only once; change it at /admin/password_change/.\n"
                )
            )
        elif account.created:
            self.stdout.write(f"Created the admin account {account.username} from PORTICO_ADMIN_USERNAME/PASSWORD.")

    def _start(self, *, host: str, port: str) -> dict[str, subprocess.Popen]:
        python = sys.executable
        commands = {
            "web": [
                python,
                "-m",
                "gunicorn",
                "portal.wsgi:application",
                "--bind",
                f"{host}:{port}",
                "--workers",
                os.environ.get("WEB_CONCURRENCY", "2"),
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "5",
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--beat",
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
                "--concurrency",
                os.environ.get("WORKER_CONCURRENCY", "2"),
                "--loglevel",
                "INFO",
            ],
        }
        # New process groups so Ctrl-C reaches us first and we stop the children in order.
        return {
            name: subprocess.Popen(cmd, cwd=settings.BASE_DIR, start_new_session=True) for name, cmd in commands.items()
        }

    def _wait(self, processes: dict[str, subprocess.Popen]) -> None:
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exited = None
        while not stopping and exited is None:
            exited = next((name for name, proc in processes.items() if proc.poll() is not None), None)
            time.sleep(0.3)
        if exited:
            self.stderr.write(f"The {exited} process exited with code {processes[exited].returncode}; stopping.")
        self.stdout.write("Stopping Portico…")
        for proc in processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        if exited:
            raise SystemExit(1)
