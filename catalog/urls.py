from django.urls import include, path

app_name = "catalog"
urlpatterns = [
    path("", include("catalog.urls_locations")),
]
