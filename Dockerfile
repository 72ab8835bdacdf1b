# Herald worker image: the router (`herald worker`) by default.
#   docker build -t herald .
#   docker run --env-file .env herald            # or: docker compose up
# Configuration comes only from environment variables (see env.example).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Dependencies first (cached while only the code changes).
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY providers ./providers
COPY streams ./streams
COPY seeds ./seeds
# No dev/embedded extras: production talks to a real Kafka and Redis.
RUN python -m venv /opt/herald \
 && /opt/herald/bin/pip install --upgrade pip \
 && /opt/herald/bin/pip install . \
 && /opt/herald/bin/herald --help > /dev/null

FROM python:3.11-slim
ENV PATH=/opt/herald/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HERALD_WEB_HOST=0.0.0.0 \
    HERALD_WEB_PORT=6066
RUN groupadd --system --gid 10001 herald \
 && useradd --system --uid 10001 --gid herald --home-dir /app --create-home \
      --shell /usr/sbin/nologin herald
COPY --from=build /opt/herald /opt/herald
WORKDIR /app
USER herald:herald
EXPOSE 6066
# 200 once the worker has joined its consumer group and got partitions.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('HERALD_WEB_PORT', '6066')}/health\", timeout=4)"]
CMD ["herald", "worker"]
