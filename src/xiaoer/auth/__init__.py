"""Staff users, roles, login sessions, CSRF. Public: authenticate, create_user, access_user."""
