# Switchboard: a multi-stage build into a slim runtime image that runs as a non-root user.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY migrations migrations
COPY benches benches
RUN cargo build --release --locked --bin switchboard

FROM debian:bookworm-slim
# CA certificates: Slack's API and WebSockets are reached over TLS with the system's roots.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin switchboard \
 && mkdir -p /app/data && chown switchboard /app/data
WORKDIR /app
COPY --from=build /src/target/release/switchboard /usr/local/bin/switchboard
# Defaults and the demo catalog are baked in; mount your own over /app/config.
COPY config config
COPY commands commands
USER switchboard
ENV SWITCHBOARD__HTTP__LISTEN=0.0.0.0:8080
# Tokens (SLACK_BOT_TOKEN, SLACK_APP_TOKEN or SLACK_SIGNING_SECRET) and a PostgreSQL URL with a
# password (SWITCHBOARD__DATABASE__URL) are passed at run time, never baked in.
EXPOSE 8080
VOLUME ["/app/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["switchboard", "health"]
ENTRYPOINT ["switchboard"]
CMD ["serve"]
