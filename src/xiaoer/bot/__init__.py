"""The bot: answers customer messages from the shop's published scripts or hands over.

Public: `service.decide`, `service.record_decision`, `service.suggest`, `service.preview`,
`engine.BotRegistry` (one trained matcher per shop, retrained when the library changes).
See docs/subsystems/bot.md.
"""
