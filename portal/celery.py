"""The Celery application. Tasks live in each app's tasks.py and are found by autodiscovery."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portico")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def announce_worker(sender, **kwargs):
    """Report a heartbeat as soon as a worker starts, so /readyz turns ready without waiting for the first beat."""
    from portal.tasks import record_worker_heartbeat

    record_worker_heartbeat.delay(sender.hostname)
