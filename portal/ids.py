"""Time-ordered identifiers (UUID version 7, RFC 9562) for high-volume tables.

Random (version 4) primary keys scatter a bulk insert over the whole of the key's index: each
row dirties another page, and after every checkpoint each first touch writes a full page image
to the WAL. Version 7 starts with the Unix time in milliseconds, so rows written together land
side by side at the index's right edge. They are still unguessable enough for ids that are
never a secret on their own (access goes through the scope and `portal.policy`): 74 random bits.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    milliseconds = time.time_ns() // 1_000_000
    value = (milliseconds & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10)) & (
        (1 << 80) - 1
    )
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return uuid.UUID(int=value)
