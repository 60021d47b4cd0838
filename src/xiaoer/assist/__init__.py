"""Realtime agent assist: ranked script suggestions, emotion alerts with the calming pack,
repeat-inquiry summary, script search, and the compliance check on every agent reply."""
