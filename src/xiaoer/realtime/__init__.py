"""Realtime plumbing shared by the customer and staff WebSockets (docs/subsystems/realtime.md).

- `units`: one inbound frame = one unit of work (`run_unit`): admitted (`Admission`, a fast
  `busy` answer under overload), committed, then its frames published; on SQLite the write turn
  (`WriteTurn`) is always taken after the pooled connection, never before.
- `sockets`: serialised sends (`Sender`), bus → socket forwarding (`pump`) and the receive loop
  (`serve_frames`) that turns bad frames and domain errors into error frames.

Channels (`conversations.channels.webchat`, `conversations.api`) own parsing and handlers.
"""
