# Multi-stage build of the `marketplace` binary.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY api ./api
COPY entity ./entity
COPY migration ./migration
RUN cargo build --release --locked -p api --bin marketplace

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/marketplace --create-home marketplace
COPY --from=build /src/target/release/marketplace /usr/local/bin/marketplace
USER marketplace
WORKDIR /var/lib/marketplace
ENV BIND_ADDR=0.0.0.0:8080 \
    DATA_DIR=/var/lib/marketplace/data \
    LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
    CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
ENTRYPOINT ["marketplace"]
CMD ["serve"]
