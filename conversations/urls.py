from django.urls import path

from conversations import views, views_backoffice

urlpatterns = [
    # Every participant: the client's users and brokers, the arbiter in charge, who joined.
    path("conversations/", views.thread_list, name="thread_list"),
    path("conversations/new/", views.thread_new, name="thread_new"),
    path("conversations/<uuid:thread_id>/", views.thread_detail, name="thread_detail"),
    path("conversations/<uuid:thread_id>/messages/", views.message_new, name="message_new"),
    path(
        "conversations/<uuid:thread_id>/attachments/<uuid:attachment_id>/",
        views.attachment_download,
        name="attachment_download",
    ),
    # The insurer's side.
    path("backoffice/inbox/", views_backoffice.inbox, name="inbox"),
    path("conversations/<uuid:thread_id>/join/", views_backoffice.thread_join, name="thread_join"),
    path(
        "backoffice/clients/<uuid:policyholder_id>/arbiter/",
        views_backoffice.client_arbiter,
        name="client_arbiter",
    ),
]
