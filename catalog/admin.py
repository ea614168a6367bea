"""The catalog in Django's admin: for looking, not writing. Writes go through the catalog pages, the API and
ingestion, which validate, keep relations in step and record audit events; the admin would bypass all of that."""

from django.contrib import admin

from catalog.models import Blueprint, Entity, Location, LocationProblem, Relation


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Blueprint)
class BlueprintAdmin(ReadOnlyAdmin):
    list_display = ["identifier", "title", "builtin", "updated_at"]
    list_filter = ["builtin"]
    search_fields = ["identifier", "title"]


@admin.register(Entity)
class EntityAdmin(ReadOnlyAdmin):
    list_display = ["ref", "kind", "type", "owner_ref", "lifecycle", "orphaned", "updated_at"]
    list_filter = ["kind", "lifecycle", "orphaned"]
    search_fields = ["ref", "title"]
    list_select_related = False
    show_full_result_count = False  # a count over 50,000 rows on every page view is wasted work


@admin.register(Relation)
class RelationAdmin(ReadOnlyAdmin):
    list_display = ["source", "type", "target_ref", "target"]
    list_filter = ["type"]
    search_fields = ["target_ref", "source__ref"]
    list_select_related = ["source", "target"]
    show_full_result_count = False


class LocationProblemInline(admin.TabularInline):
    model = LocationProblem
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Location)
class LocationAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "type", "status", "last_refreshed_at"]
    list_filter = ["type", "status"]
    search_fields = ["target", "path"]
    inlines = [LocationProblemInline]
