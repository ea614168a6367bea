"""Pages for catalog locations and registering descriptor files (ingestion's side of the catalog UI)."""

from django.urls import path

from catalog import views_locations

urlpatterns = [
    path("register/", views_locations.location_register_view, name="register"),
    path("locations/", views_locations.location_list, name="locations"),
    path("locations/<int:pk>/", views_locations.location_detail, name="location"),
    path("locations/<int:pk>/refresh/", views_locations.location_refresh_view, name="location-refresh"),
    path("locations/<int:pk>/delete/", views_locations.location_delete_view, name="location-delete"),
]
