# Halte — image for `halte run` against your homeserver.
# The data directory (database, access token) is a volume: back it up.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HALTE_DATA_DIR=/data

RUN groupadd --system halte \
    && useradd --system --gid halte --home-dir /app --shell /usr/sbin/nologin halte

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY commandes ./commandes
COPY stockage ./stockage
RUN pip install --no-cache-dir . \
    && mkdir -p /data /config \
    && chown halte:halte /data \
    && chmod 0700 /data

USER halte
VOLUME ["/data"]

# Mount your config.toml at /config/config.toml; put secrets in the environment
# (HALTE_MATRIX__PASSWORD or HALTE_MATRIX__ACCESS_TOKEN), not in the image.
ENTRYPOINT ["halte"]
CMD ["run", "-c", "/config/config.toml"]
