from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from portal.models import AuditEvent, Mandate, Notification, Organisation, User
from portal.security_receivers import mark_actor
from portal.two_factor import two_factor_policy_record


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "siren", "dedicated_arbiter", "two_factor_required"]
    list_filter = ["kind", "two_factor_required"]
    search_fields = ["name", "siren"]

    def save_model(
        self, request: HttpRequest, obj: Organisation, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if change and "two_factor_required" in form.changed_data:
            assert isinstance(request.user, User)  # the admin site admits insurer admins only
            two_factor_policy_record(organisation=obj, actor=request.user, request=request)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "organisation", "role", "is_active"]
    list_filter = ["role", "organisation__kind"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Unlock Plus", {"fields": ["organisation", "role", "authority_amount"]}),
    )

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        mark_actor(obj, request)  # the role and activation events name the admin
        super().save_model(request, obj, form, change)


@admin.register(Mandate)
class MandateAdmin(admin.ModelAdmin):
    list_display = ["broker", "policyholder", "starts_on", "ends_on"]

    # The mandate events (portal.security_receivers) name the admin who made the change.
    def save_model(self, request: HttpRequest, obj: Mandate, form: Any, change: bool) -> None:
        mark_actor(obj, request)
        super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Mandate) -> None:
        mark_actor(obj, request)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Mandate]) -> None:
        for mandate in queryset:
            self.delete_model(request, mandate)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False


admin.site.register(Notification)
