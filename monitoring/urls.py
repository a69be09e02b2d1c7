from django.urls import path

from monitoring import views, views_backoffice, views_insights

urlpatterns = [
    # The policyholder's side (its users and its brokers): alerts and the buyers it watches.
    path("alerts/", views.alerts, name="alerts"),
    path("watchlist/", views.watchlist, name="buyer_watchlist"),
    # The arbiters' side.
    path("backoffice/monitoring/", views_backoffice.monitoring, name="monitoring"),
    path(
        "backoffice/monitoring/import/",
        views_backoffice.monitoring_import,
        name="monitoring_import",
    ),
    path(
        "backoffice/monitoring/files/<uuid:file_id>/",
        views_backoffice.monitoring_file,
        name="monitoring_file",
    ),
    path(
        "backoffice/buyers/<uuid:buyer_id>/insights/",
        views_insights.buyer_insight_publish_page,
        name="buyer_insight_publish",
    ),
]
