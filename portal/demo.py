"""The demo data `make run` loads into an empty database, so a first look at Portico shows something real.

The catalog's demo organisation (catalog/demo/) goes in through the normal ingestion path, as a folder location
any user can see on the locations page.
"""

from pathlib import Path

from django.conf import settings

from catalog.ingestion import location_refresh
from catalog.locations import location_register
from catalog.models import Entity

DEMO_CATALOG = Path(settings.BASE_DIR) / "catalog" / "demo"


def load_if_empty() -> str:
    if Entity.objects.exists():
        return "The catalog has entities already; no demo data loaded."
    location = location_register(actor=None, type="path", target=str(DEMO_CATALOG), path="all.yaml")
    report = location_refresh(location=location)
    return f"Loaded the demo catalog: {report.summary()}."
