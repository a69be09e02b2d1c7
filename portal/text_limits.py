"""Length limits of free text written through the API and the pages (issue 12, finding 4): a
longer value is a 400 naming the field, never a row a page cannot show."""

NOTE_MAX_LENGTH = 5000
"""Notes, reasons, rationales and messages to a client."""

SEARCH_MAX_LENGTH = 200
"""A search box (`q`)."""
