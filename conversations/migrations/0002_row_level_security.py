from django.db import migrations

from portal.rls import enable_row_level_security


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial"), ("portal", "0002_row_level_security")]

    operations = [
        *enable_row_level_security(
            "conversations_thread",
            "conversations_message",
            "conversations_attachment",
            "conversations_threadread",
            "conversations_threadmember",
        )
    ]
