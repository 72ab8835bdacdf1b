# Herald worker images.
#   docker build -t herald .                          # the router (`herald worker`), the default target
#   docker build --target whatsapp -t herald-whatsapp .   # + Chromium and wa-js: `herald worker whatsapp`
#   docker run --env-file .env herald                 # or: docker compose up
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
# No dev/embedded/sandbox extras: production talks to a real Kafka and Redis, and the
# fakes (sandbox/, the herald-sandbox distribution) stay out of the image.
RUN python -m venv /opt/herald \
 && /opt/herald/bin/pip install --upgrade pip \
 && /opt/herald/bin/pip install . \
 && /opt/herald/bin/herald --help > /dev/null

# The wa-js bundle at the version the bridge is checked against
# (providers/wppconnect/_contract.py; a test keeps the two equal) and, with
# --build-arg WHATSAPP_WEB_VERSION=..., that pinned WhatsApp Web build: fetched from the
# npm registry, integrity checked, by the same command as scripts/bootstrap.sh.
FROM build AS wajs
ARG WAJS_VERSION=4.6.0
ARG WHATSAPP_WEB_VERSION=
RUN WHATSAPP_WPPCONNECT_WAJS_VERSION="${WAJS_VERSION}" \
    WHATSAPP_WEB_VERSION="${WHATSAPP_WEB_VERSION}" \
    /opt/herald/bin/herald whatsapp install --cache-dir /opt/herald-cache

FROM python:3.11-slim AS router
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

# The WhatsApp Web session worker: Debian's Chromium, wa-js (and the pinned WhatsApp Web
# build, if any) from the wajs stage, and a volume for
# the browser profiles (WHATSAPP_WPPCONNECT_TOKEN_STORE=file).
FROM router AS whatsapp
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium fonts-liberation \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data/tokens && chown herald:herald /data/tokens && chmod 0700 /data/tokens
ARG WAJS_VERSION=4.6.0
ARG WHATSAPP_WEB_VERSION=
COPY --from=wajs /opt/herald-cache /opt/herald-cache
ENV WHATSAPP_WPPCONNECT_CHROMIUM_PATH=/usr/bin/chromium \
    WHATSAPP_CACHE_DIR=/opt/herald-cache \
    WHATSAPP_WPPCONNECT_WAJS_VERSION=${WAJS_VERSION} \
    WHATSAPP_WEB_VERSION=${WHATSAPP_WEB_VERSION} \
    WHATSAPP_WPPCONNECT_TOKEN_FOLDER=/data/tokens
VOLUME /data/tokens
USER herald:herald
CMD ["herald", "worker", "whatsapp"]

# The default target stays the router.
FROM router
