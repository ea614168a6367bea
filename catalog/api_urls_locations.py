"""API routes for locations and ingestion."""

urlpatterns: list = []
