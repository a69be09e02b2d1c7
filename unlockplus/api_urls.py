"""Every `/api/v1/` route. Apps register their viewsets on the one router."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from billing import api as billing_api
from claims import api as claims_api
from conversations import api as conversations_api
from monitoring import api as monitoring_api
from portal import api as portal_api
from studies import api as studies_api
from underwriting import api as underwriting_api

router = DefaultRouter()
portal_api.register(router)
underwriting_api.register(router)
billing_api.register(router)
studies_api.register(router)
claims_api.register(router)
monitoring_api.register(router)
conversations_api.register(router)

urlpatterns = [
    path("auth/token/", portal_api.ObtainTokenView.as_view(), name="api-token"),
    path("auth/logout/", portal_api.LogoutView.as_view(), name="api-logout"),
    path("auth/logout-all/", portal_api.LogoutAllView.as_view(), name="api-logout-all"),
    path("me/", portal_api.MeView.as_view(), name="api-me"),
    *router.urls,
]
