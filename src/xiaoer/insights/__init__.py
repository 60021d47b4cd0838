"""Script library insights: per-script and per-variant statistics, coverage, A/B tests, and the
feedback loop (unanswered question clusters, agents' proposals) for supervisors."""
