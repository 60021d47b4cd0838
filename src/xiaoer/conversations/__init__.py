"""Conversations: customer chats with the bot and with agents, over the web chat channel.

Owns `conversation`, `message` and `conversation_read`. Modules:
- `service` — the customer's turn (`post_customer_message`, idempotent per client message id,
  runs the bot inline; `prepare_customer_message` + `store_customer_message` are its two halves),
  hand-off and queue position, and the staff operations `accept_conversation` (atomic),
  `post_staff_message` (reply or internal note), `transfer_conversation`, `close_conversation`;
  `access_conversation(session, user, id)` is the only permission-checked fetch.
- `inbox` — staff reads: `list_conversations` (queue / mine / open / closed), `conversation_detail`,
  `messages_after`, `mark_read`, `unread_counts`, `customer_conversations`.
- `frames` — realtime topics and the JSON shapes of conversations and messages.
- `channels/webchat` — the widget page `/chat/{shop}`, its WebSocket `/ws/chat/{shop}`, `/ws/echo`.
- `api` — the staff JSON API `/api/v1/conversations…` and the staff WebSocket `/ws/agent`.
- `views` + `templates/conversations/workspace*.html` — the agent workspace page.

Protocol: docs/subsystems/chat-protocol.md; mechanics: docs/subsystems/realtime.md.
"""
