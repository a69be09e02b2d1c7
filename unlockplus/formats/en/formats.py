"""English as written in the United Kingdom: the French module's day/month/year dates
(28/11/2026) and input formats, with English separators (1,234.56)."""

from unlockplus.formats.fr.formats import *  # noqa: F403

DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
