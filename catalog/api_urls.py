from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from catalog import api

router = SimpleRouter()
router.register("blueprints", api.BlueprintViewSet, basename="catalog-blueprint")
router.register("entities", api.EntityViewSet, basename="catalog-entity")

# `kind:namespace/name` or `kind:name`; names may hold dots, so only `/` and `:` end a part.
BY_REF = r"^entities/by-ref/(?P<kind>[^/:]+):(?P<namespace>[^/:]+)/(?P<name>[^/:]+)/$"
BY_SHORT_REF = r"^entities/by-ref/(?P<kind>[^/:]+):(?P<name>[^/:]+)/$"

urlpatterns = [
    path("", include("catalog.api_urls_locations")),
    re_path(BY_REF, api.EntityByRefView.as_view(), name="catalog-entity-by-ref"),
    re_path(BY_SHORT_REF, api.EntityByShortRefView.as_view(), name="catalog-entity-by-short-ref"),
    path("relations/", api.RelationListView.as_view(), name="catalog-relations"),
    path("", include(router.urls)),
]
