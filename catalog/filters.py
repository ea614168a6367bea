"""The catalog's one FilterSet: the index page's filter form and the API's query parameters are the same thing."""

from __future__ import annotations

import django_filters

from catalog import selectors
from catalog.models import Entity

SORT_CHOICES = [
    ("kind", "Kind, then name"),
    ("name", "Name"),
    ("-name", "Name (Z to A)"),
    ("-updated", "Recently updated"),
    ("updated", "Least recently updated"),
]


class EntityFilterSet(django_filters.FilterSet):
    """Fields declare and validate the parameters; the filtering itself is `selectors.apply_entity_filters`, so
    pages, the API and the selectors cannot drift apart."""

    q = django_filters.CharFilter(label="Text", method="_noop", help_text="Words in names, titles, descriptions, tags.")
    kind = django_filters.CharFilter(label="Kind", method="_noop")
    type = django_filters.CharFilter(label="Type", method="_noop")
    owner = django_filters.CharFilter(label="Owner", method="_noop", help_text="`team-a` or `group:default/team-a`.")
    lifecycle = django_filters.CharFilter(label="Lifecycle", method="_noop")
    tag = django_filters.CharFilter(label="Tag", method="_noop")
    namespace = django_filters.CharFilter(label="Namespace", method="_noop")
    sort = django_filters.ChoiceFilter(label="Sort", choices=SORT_CHOICES, method="_noop", empty_label=None)

    class Meta:
        model = Entity
        fields: list[str] = []

    def _noop(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        values = {key: value for key, value in self.form.cleaned_data.items() if value}
        return selectors.apply_entity_filters(queryset, values)

    def active_filters(self) -> dict[str, str]:
        """The filters in use (for keeping them in links and showing them)."""
        if not self.form.is_valid():
            return {}
        return {key: value for key, value in self.form.cleaned_data.items() if value and key != "sort"}
