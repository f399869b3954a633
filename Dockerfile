# syntax=docker/dockerfile:1
# One image for the whole fleet; the container's command picks the binary:
#   gateway | bot | payments | broadcast | admin | sandbox serve
# Build: docker build -t starshop .   (docker compose builds it for every service)

# --- build -----------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /src
# protoc for the proto crate's build script (in case it isn't using a vendored protoc).
RUN apt-get update \
 && apt-get install -y --no-install-recommends protobuf-compiler \
 && rm -rf /var/lib/apt/lists/*
# sqlx's query! macros check against the committed .sqlx/ metadata, not a live database.
ENV SQLX_OFFLINE=true CARGO_TERM_COLOR=never
COPY . .
# Cache mounts keep the registry and target/ between builds (BuildKit), so a code
# change rebuilds our crates, not the whole dependency tree.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
 && mkdir -p /out \
 && cp target/release/gateway target/release/bot target/release/payments \
       target/release/broadcast target/release/admin target/release/sandbox /out/

# --- run -------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: TLS to Telegram, Heleket and Neon. curl: the compose healthchecks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin starshop
COPY --from=builder /out/ /usr/local/bin/
USER starshop
ENV LOG_LEVEL=info
CMD ["gateway"]
