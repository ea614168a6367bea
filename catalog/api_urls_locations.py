"""API routes for locations and ingestion."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from catalog.api_locations import IngestView, LocationViewSet

router = SimpleRouter()
router.register("locations", LocationViewSet, basename="location")

urlpatterns = [path("ingest/", IngestView.as_view(), name="catalog-ingest"), *router.urls]
