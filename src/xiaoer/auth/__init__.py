"""Staff users, roles, login sessions, CSRF. Public: authenticate, create_user, update_user,
access_user, list_users, staff_with_open_chats, shop_timezone, LoginThrottle."""
