# spotik-api: built in a Rust image, run from a slim Debian one as a
# non-root user. Build from the repository's root:
#   docker build -f deploy/docker/api.Dockerfile -t spotik-api .
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches make rebuilds incremental; the binary is
# copied out of the cache mount before the stage ends.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p spotik-api --bin spotik-api \
    && cp target/release/spotik-api /usr/local/bin/spotik-api

FROM debian:bookworm-slim
# curl is the health check's client; certificates for TLS to PostgreSQL or
# Redis. Versions follow the base image's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin spotik \
    && mkdir -p /media/spotik \
    && chown spotik /media/spotik
COPY --from=build /usr/local/bin/spotik-api /usr/local/bin/spotik-api
USER 10001
ENV API_LISTEN=0.0.0.0:8000 \
    MEDIA_ROOT=/media/spotik \
    APP_ENV=production
EXPOSE 8000
# Liveness: the process answers. Readiness (/api/health) is for the load balancer.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8000/api/ping"]
ENTRYPOINT ["/usr/local/bin/spotik-api"]
CMD ["serve"]
