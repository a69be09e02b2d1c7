from django.contrib import admin
from django.http import HttpRequest

from underwriting.models import Buyer, Contract, Guarantee


@admin.register(Buyer)
class BuyerAdmin(admin.ModelAdmin):
    list_display = ["name", "siren", "vat_number", "grade", "proceedings"]
    search_fields = ["name", "siren", "vat_number"]


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    """Terms are edited here; the status and the end date change only through the actions that
    end the cover with them (the contract page: terminate, suspend; a study's acceptance)."""

    list_display = ["number", "policyholder", "status", "starts_on", "monthly_rate"]
    list_filter = ["status"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: Contract | None = None
    ) -> list[str] | tuple[str, ...]:
        return ["status", "ends_on"] if obj is not None else []


@admin.register(Guarantee)
class GuaranteeAdmin(admin.ModelAdmin):
    list_display = ["contract", "buyer", "amount", "primary_amount", "period", "change"]

    def has_change_permission(self, request: HttpRequest, obj: Guarantee | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Guarantee | None = None) -> bool:
        return False
