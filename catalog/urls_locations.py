"""Pages for catalog locations and registering descriptor files (ingestion's side of the catalog UI)."""

urlpatterns: list = []
