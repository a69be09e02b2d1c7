from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from portal.models import AuditEvent, Mandate, Notification, Organisation, User


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "siren", "dedicated_arbiter"]
    list_filter = ["kind"]
    search_fields = ["name", "siren"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "organisation", "role", "is_active"]
    list_filter = ["role", "organisation__kind"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Unlock Plus", {"fields": ["organisation", "role", "authority_amount"]}),
    )


@admin.register(Mandate)
class MandateAdmin(admin.ModelAdmin):
    list_display = ["broker", "policyholder", "starts_on", "ends_on"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False


admin.site.register(Notification)
