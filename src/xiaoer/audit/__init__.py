"""Append-only audit log (who, what, when, before → after). Public: record, list_entries."""
