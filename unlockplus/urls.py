from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal.admin_site import restrict_admin_to_insurer_superusers
from portal.views import healthz

restrict_admin_to_insurer_superusers(admin.site)

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("unlockplus.api_urls")),
    path("", include("underwriting.urls")),
    path("", include("billing.urls")),
    path("", include("studies.urls")),
    path("", include("monitoring.urls")),
    path("", include("claims.urls")),
    path("", include("conversations.urls")),
    path("", include("portal.urls")),
]
