from django.contrib import admin

from rbac.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_name", "verb", "target_type", "target_repr", "request_id"]
    list_filter = ["verb", "target_type"]
    search_fields = ["actor_name", "target_repr", "request_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
