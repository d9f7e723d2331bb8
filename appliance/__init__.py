"""Self-hosted financial NLP appliance."""

__version__ = "0.1.0"
