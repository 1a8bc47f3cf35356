"""The web UI: server-rendered Jinja2 pages in Chinese over the same services as the API."""
