"""commerce domain."""
