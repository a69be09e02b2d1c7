"""The platform's number and date formats (DESIGN §6), read by Django through FORMAT_MODULE_PATH:
one module per language, so `localize`, `intcomma`, `floatformat` and the `date` filter all write
the same way as `portal.money.eur`."""
