"""Every `/api/v1/` route. Apps register their viewsets on the one router."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from portal import api as portal_api

router = DefaultRouter()
portal_api.register(router)

urlpatterns = [
    path("auth/token/", portal_api.ObtainTokenView.as_view(), name="api-token"),
    path("me/", portal_api.MeView.as_view(), name="api-me"),
    *router.urls,
]
