"""The HTTP listener: dashboard pages, the JSON API, Prometheus metrics and probes.

Imported only by ``news-monitor run`` (when ``http:`` is configured) and
``news-monitor serve``: the other commands never load aiohttp.web, Jinja2 or
prometheus-client.

    app.py      route table (who may use each route) and middleware
    auth.py     tokens, session cookies, CSRF
    api.py      /api/v1 JSON handlers; openapi.py describes them
    pages.py    the pages (render.py: Jinja2 and its escaping filters)
    probes.py   /livez, /readyz;  metrics.py: /metrics
    serve.py    start and stop the listener beside the daemon, or alone
"""
