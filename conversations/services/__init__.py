"""Writes for conversations, one module per use case: `threads` (start a thread, post a
message with attachments, mark read, join as insurer staff) and `assignments` (the dedicated
arbiter and its stand-in, with history)."""

from conversations.services.assignments import (
    arbiter_assign,
    stand_in_end,
    stand_in_set,
)
from conversations.services.threads import (
    AttachmentInput,
    ThreadLinks,
    message_post,
    thread_join,
    thread_read,
    thread_start,
)

__all__ = [
    "AttachmentInput",
    "ThreadLinks",
    "arbiter_assign",
    "message_post",
    "stand_in_end",
    "stand_in_set",
    "thread_join",
    "thread_read",
    "thread_start",
]
