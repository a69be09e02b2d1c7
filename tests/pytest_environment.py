"""Loaded with `-p` before Django's settings: the test servers speak plain http."""

import os

os.environ.setdefault("UNLOCKPLUS_SECURE", "false")
