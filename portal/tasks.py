from celery import shared_task

from portal import services


@shared_task(name="portal.tasks.record_worker_heartbeat", ignore_result=True)
def record_worker_heartbeat(hostname: str = "") -> None:
    """Beat sends this every 30 s; whichever worker takes it records that it is alive."""
    services.worker_heartbeat_record(hostname=hostname or record_worker_heartbeat.request.hostname or "unknown")
