"""The web UI: server-rendered Jinja pages with HTMX, signed in by browser session."""
