"""Shared web plumbing: request transactions, login sessions, CSRF, templates, i18n, errors."""
