from celery import shared_task
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from catalog.ingestion import location_refresh
from catalog.models import Location


@shared_task(name="catalog.refresh_location", ignore_result=True)
def refresh_location(location_id: int, confirm_empty: bool = False) -> None:
    """Refresh one location. Safe to repeat: an unchanged source writes nothing."""
    location = Location.objects.filter(pk=location_id).first()
    if location is None:  # deleted since it was queued
        return
    location_refresh(location=location, confirm_empty=confirm_empty)


@shared_task(name="catalog.refresh_due_locations", ignore_result=True)
def refresh_due_locations() -> None:
    """Beat runs this every minute; it queues the locations whose last refresh is older than the interval."""
    due_before = timezone.now() - timezone.timedelta(seconds=settings.CATALOG_REFRESH_INTERVAL)
    due = (
        Location.objects.exclude(type=Location.Type.UPLOAD)
        .filter(Q(last_refreshed_at__isnull=True) | Q(last_refreshed_at__lt=due_before))
        .order_by(F("last_refreshed_at").asc(nulls_first=True))
    )
    for location_id in due.values_list("pk", flat=True)[:100]:
        refresh_location.delay(location_id)
