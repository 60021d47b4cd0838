"""Staff users, roles, server-side login sessions (`sessions`), MFA (`mfa`), the password policy
(`password_policy`) and the failed-login throttle (`throttle`). Public: authenticate,
create_user, update_user, change_own_password, access_user, list_users.
A shop's time zone is `xiaoer.shops.service.shop_timezone`; staff with their chat load is
`xiaoer.conversations.inbox.staff_with_open_chats`."""
