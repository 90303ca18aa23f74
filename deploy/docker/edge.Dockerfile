# spotik-edge: built in a Rust image, run from a slim Debian one as a
# non-root user. Build from the repository's root:
#   docker build -f deploy/docker/edge.Dockerfile -t spotik-edge .
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p spotik-edge --bin spotik-edge \
    && cp target/release/spotik-edge /usr/local/bin/spotik-edge

FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10002 --no-create-home --shell /usr/sbin/nologin spotik
COPY --from=build /usr/local/bin/spotik-edge /usr/local/bin/spotik-edge
USER 10002
# io_uring is used where the container's seccomp profile allows it; the
# edge falls back to buffered reads by itself otherwise.
ENV EDGE_LISTEN=0.0.0.0:8080 \
    EDGE_ROOT=/media/spotik
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/ping"]
ENTRYPOINT ["/usr/local/bin/spotik-edge"]
