"""Operating the service: backups and restores (`backup`), readiness checks and scrape-time
gauges (`health`), and the scheduled backup job (`jobs`). See docs/deployment.md."""
