from django.urls import reverse

# The header navigation: (label, url name, path prefix that marks it active). Each app adds its entry when it ships.
NAVIGATION = [
    ("Catalog", "catalog:index", "/catalog/"),
    ("Services", "dashboards:overview", "/services/"),
    ("Create", "scaffolder:create", "/create/"),
    ("Runs", "scaffolder:runs", "/runs/"),
    ("Docs", "techdocs:index", "/docs/"),
]


def navigation(request):
    items = []
    for label, url_name, prefix in NAVIGATION:
        items.append({"label": label, "url": reverse(url_name), "active": request.path.startswith(prefix)})
    # The header search box searches the catalog, with suggestions as you type.
    return {
        "navigation": items,
        "search_url": reverse("catalog:search"),
        "search_suggest_url": reverse("catalog:suggest"),
    }
