import base64
import hashlib
import re

from csp.decorators import csp_update
from django.contrib import admin
from django.template import Engine
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from portal import views_errors
from portal.admin_site import restrict_admin_to_insurer_superusers
from portal.views import healthz

restrict_admin_to_insurer_superusers(admin.site)


def inline_style_hashes(template_name: str) -> list[str]:
    """CSP hashes of a template's literal <style> blocks: they are allowed by hash, not by
    'unsafe-inline'."""
    source = Engine.get_default().get_template(template_name).source
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
        for block in re.findall(r"<style>(.*?)</style>", source, flags=re.DOTALL)
    ]


# Swagger UI from our static files (drf-spectacular-sidecar); the split view serves its init
# script from its own URL, since the CSP forbids inline scripts. Only its page layout style is
# allowed, by hash.
api_docs = csp_update({"style-src": inline_style_hashes("drf_spectacular/swagger_ui.html")})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema")
)

# Error pages in the platform's layout and language; JSON under /api/ (portal.views_errors).
handler400 = views_errors.bad_request
handler403 = views_errors.permission_denied
handler404 = views_errors.page_not_found
handler500 = views_errors.server_error

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", views_errors.favicon, name="favicon"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/v1/", include("unlockplus.api_urls")),
    path("", include("underwriting.urls")),
    path("", include("billing.urls")),
    path("", include("studies.urls")),
    path("", include("monitoring.urls")),
    path("", include("claims.urls")),
    path("", include("conversations.urls")),
    path("", include("portal.urls")),
]
