"""Realtime agent assist: ranked script suggestions, emotion alerts with the calming pack,
repeat-inquiry summary, script search, and the compliance check on every agent reply.

Modules: `service` (reply check, overrides, usage events, proposals, conversation context),
`suggestions` (ranking by match and past success, the panel), `history` (repeat inquiries),
`search` (the `/` script search by title, keyword or pinyin initials).
"""
