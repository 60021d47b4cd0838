"""Shops (tenants): name, slug used in widget URLs, time zone, order-number patterns."""
