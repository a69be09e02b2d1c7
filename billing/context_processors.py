from typing import Any

from django.http import HttpRequest

from billing.permissions import is_finance_ops, sees_invoices


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_invoices": sees_invoices(user), "nav_billing": is_finance_ops(user)}
