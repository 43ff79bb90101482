"""Persistence: the ledger's models, migrations, queries and imports."""
