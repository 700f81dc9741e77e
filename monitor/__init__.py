"""news-monitor: streaming news-monitoring alerts from RSS/Atom feeds."""

__version__ = "0.1.0"
USER_AGENT = f"news-monitor/{__version__} (+https://github.com/news-monitor/news-monitor)"
