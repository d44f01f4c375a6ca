# chatops: one image for every role (docs/deploy.md).
#   docker run IMAGE db upgrade       migrate the schema (once, before a rollout)
#   docker run IMAGE                  `chatops serve`: Slack over HTTP on $PORT (or Socket Mode)
#   docker run IMAGE serve --no-worker   an HTTP replica without the in-process worker
#   docker run IMAGE worker           the worker alone (set CHATOPS_METRICS_PORT for its probes)

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/chatops
# The package's metadata first, then its code: only what `pip install .` needs.
COPY pyproject.toml README.md ./
COPY rota ./rota
COPY commands ./commands
COPY chatops ./chatops
RUN /opt/chatops/bin/pip install . && /opt/chatops/bin/chatops --version

FROM python:3.11-slim
ENV PATH=/opt/chatops/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=3000 \
    CHATOPS_LOG_FORMAT=json
RUN groupadd --system --gid 10001 chatops \
    && useradd --system --uid 10001 --gid chatops --home-dir /var/lib/chatops --create-home \
       --shell /usr/sbin/nologin chatops
COPY --from=build /opt/chatops /opt/chatops
# The working directory is the only writable place (a trial on the default SQLite file);
# production runs on PostgreSQL (DATABASE_URL).
WORKDIR /var/lib/chatops
USER 10001:10001
EXPOSE 3000
# Ready means: database reachable, schema current, some worker alive (GET /readyz). The probes
# answer on CHATOPS_METRICS_PORT when set (the worker, Socket Mode), else on PORT.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; p = os.environ.get('CHATOPS_METRICS_PORT') or os.environ.get('PORT', '3000'); r.urlopen('http://127.0.0.1:' + p + '/readyz', timeout=4)"]
# SIGTERM stops claiming, lets work processes answer what they hold, then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["chatops"]
CMD ["serve"]
