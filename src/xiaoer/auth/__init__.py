"""Staff users, roles, server-side login sessions (`sessions`), MFA (`mfa`), the password policy
(`password_policy`) and the failed-login throttle (`throttle`). Public: authenticate,
create_user, update_user, change_own_password, access_user, list_users, staff_with_open_chats,
shop_timezone."""
