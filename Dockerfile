# news-monitor: a small image running the daemon as a non-root user.
#   docker build -t news-monitor .
#   docker run -v $PWD/config:/config -v news-monitor-data:/data news-monitor
# The image ships config/example.yaml as /config/monitor.yaml; mount your own over it.
# SQLite lives in the /data volume; set MONITOR_DATABASE_URL to use PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MONITOR_DATABASE_URL=sqlite:////data/news-monitor.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY config/example.yaml /config/monitor.yaml
RUN pip install ".[postgres,mqtt]" \
    && useradd --system --uid 10001 --home-dir /data monitor \
    && mkdir -p /data \
    && chown monitor /data

USER monitor
VOLUME ["/data"]
# Asks /readyz of the config's http.listen (the shipped example config listens on
# 127.0.0.1:8080 inside the container); unhealthy when the database is unreachable,
# behind on migrations, or the poll tick stalled.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["news-monitor", "health", "-c", "/config/monitor.yaml"]
EXPOSE 8080
ENTRYPOINT ["news-monitor"]
CMD ["run", "-c", "/config/monitor.yaml"]
