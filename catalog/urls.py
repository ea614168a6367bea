from django.urls import include, path

from catalog import views

app_name = "catalog"
# Fixed prefixes (locations, blueprints, search) come before the entity pattern, whose first segment is any kind.
urlpatterns = [
    path("", include("catalog.urls_locations")),
    path("", views.index, name="index"),
    path("search/", views.search, name="search"),
    path("search/suggest/", views.suggest, name="suggest"),
    path("blueprints/", views.blueprint_list, name="blueprints"),
    path("blueprints/new/", views.blueprint_create, name="blueprint-create"),
    path("blueprints/<slug:identifier>/", views.blueprint_detail, name="blueprint"),
    path("blueprints/<slug:identifier>/edit/", views.blueprint_edit, name="blueprint-edit"),
    path("blueprints/<slug:identifier>/entities/new/", views.entity_create, name="entity-create"),
    path("<str:kind>/<str:namespace>/<str:name>/", views.entity, name="entity"),
    path("<str:kind>/<str:namespace>/<str:name>/edit/", views.entity_edit, name="entity-edit"),
    path("<str:kind>/<str:namespace>/<str:name>/delete/", views.entity_delete, name="entity-delete"),
]
