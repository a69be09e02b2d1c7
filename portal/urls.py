from django.contrib.auth import views as auth_views
from django.urls import path

from portal import views, views_security, views_two_factor

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetRequestView.as_view(), name="password_reset"),
    path(
        "password-reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("bench/bare", views.bare_json, name="bench_bare"),
    path("account/tokens/", views.account_tokens, name="account_tokens"),
    path(
        "account/tokens/revoke-all/",
        views.account_tokens_revoke_all,
        name="account_tokens_revoke_all",
    ),
    path(
        "account/tokens/<str:token_key>/revoke/",
        views.account_token_revoke,
        name="account_token_revoke",
    ),
    path("account/two-factor/", views_two_factor.two_factor_page, name="two_factor"),
    path(
        "account/two-factor/verify/", views_two_factor.two_factor_verify, name="two_factor_verify"
    ),
    path(
        "account/two-factor/confirm/",
        views_two_factor.two_factor_confirm,
        name="two_factor_confirm",
    ),
    path(
        "account/two-factor/recovery-codes/",
        views_two_factor.two_factor_recovery_codes,
        name="two_factor_recovery_codes",
    ),
    path(
        "account/two-factor/disable/",
        views_two_factor.two_factor_disable,
        name="two_factor_disable",
    ),
    path(
        "organisation/two-factor/",
        views_two_factor.organisation_two_factor,
        name="organisation_two_factor",
    ),
    path("account/sessions/", views_security.account_sessions, name="account_sessions"),
    path("account/sessions/end/", views_security.account_sessions_end, name="account_sessions_end"),
    path(
        "account/sessions/<uuid:session_id>/revoke/",
        views_security.account_session_revoke,
        name="account_session_revoke",
    ),
    path("backoffice/security/", views_security.security_audit, name="security_audit"),
    path(
        "backoffice/security/export/",
        views_security.security_audit_export,
        name="security_audit_export",
    ),
    path("no-organisation/", views.no_organisation, name="no_organisation"),
    path("portal/", views.dashboard, name="dashboard"),
    path("broker/", views.broker_clients, name="broker_clients"),
    path("backoffice/", views.backoffice, name="backoffice"),
    path("finance/", views.finance_home, name="finance_home"),
    path("notifications/", views.notifications, name="notifications"),
    path(
        "policyholders/<uuid:policyholder_id>/",
        views.policyholder_detail,
        name="policyholder_detail",
    ),
    path("contracts/<uuid:contract_id>/", views.contract_detail, name="contract_detail"),
]
