"""Tickets (工单): after-sale cases, complaints and follow-ups with a timeline of every change.

Public (`xiaoer.tickets.service`): `access_ticket`, `create_ticket`, `update_ticket`,
`add_comment`, `list_tickets`, `timeline`, `tickets_for_customer`, `tickets_for_conversation`,
`prefill_from_conversation`. See docs/subsystems/tickets.md.
"""
