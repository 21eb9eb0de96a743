"""The hub's operator listener: login, fleet pages and /metrics (see `pages.py`)."""
