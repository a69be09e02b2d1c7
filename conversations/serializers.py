"""Serializers of the conversations API: threads, their messages and attachments (read from
what the services stored), and what a caller sends to ask or answer."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conversations.models import Attachment, Message, Thread
from conversations.services.threads import MAX_BODY


class AttachmentSerializer(serializers.ModelSerializer):
    download = serializers.SerializerMethodField(help_text="The page that serves the file.")

    class Meta:
        model = Attachment
        fields = ["id", "name", "content_type", "size", "download"]

    @extend_schema_field(serializers.CharField())
    def get_download(self, attachment: Attachment) -> str:
        url = reverse(
            "attachment_download",
            kwargs={"thread_id": attachment.message.thread_id, "attachment_id": attachment.pk},
        )
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = ["id", "author", "side", "body", "created_at", "attachments"]


class ThreadSerializer(serializers.ModelSerializer):
    policyholder = serializers.UUIDField(source="policyholder_id", read_only=True)
    policyholder_name = serializers.CharField(source="policyholder.name", read_only=True)
    buyer = serializers.UUIDField(source="buyer_id", read_only=True, allow_null=True)
    request = serializers.UUIDField(source="request_id", read_only=True, allow_null=True)
    study = serializers.UUIDField(source="study_id", read_only=True, allow_null=True)
    claim = serializers.UUIDField(source="claim_id", read_only=True, allow_null=True)
    unread = serializers.SerializerMethodField(help_text="A message the caller has not read.")

    class Meta:
        model = Thread
        fields = [
            "id",
            "policyholder",
            "policyholder_name",
            "subject",
            "buyer",
            "request",
            "study",
            "claim",
            "created_at",
            "last_message_at",
            "waiting_since",
            "unread",
        ]

    @extend_schema_field(serializers.BooleanField())
    def get_unread(self, thread: Any) -> bool:
        return bool(getattr(thread, "unread", False))


class ThreadDetailSerializer(ThreadSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta(ThreadSerializer.Meta):
        fields = [*ThreadSerializer.Meta.fields, "messages"]


class ThreadCreateSerializer(serializers.Serializer):
    policyholder = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The client: required for a broker; a policyholder's user asks in its own space.",
    )
    subject = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=MAX_BODY)
    buyer = serializers.UUIDField(required=False, allow_null=True)
    request = serializers.UUIDField(required=False, allow_null=True)
    study = serializers.UUIDField(required=False, allow_null=True)
    claim = serializers.UUIDField(required=False, allow_null=True)
    attachments = serializers.ListField(
        child=serializers.FileField(), required=False, help_text="Multipart only."
    )


class MessageCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=MAX_BODY)
    attachments = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        help_text="Multipart only: PDF, PNG, JPEG, XLSX or CSV, recognised by their content.",
    )
