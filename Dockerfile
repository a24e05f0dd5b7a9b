# herald in a container: a build stage with the Rust toolchain, then a small
# Debian image with the binary alone, run as an unprivileged user.
#
#   docker build -t herald .
#   docker run --rm -v "$PWD:/site" herald --config /site/config/herald.yaml publish --dry-run
#
# contrib/docker-compose.yml keeps `herald run` up with secrets from files.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin herald

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /site --shell /usr/sbin/nologin herald
COPY --from=build /src/target/release/herald /usr/local/bin/herald
USER herald
WORKDIR /site
ENTRYPOINT ["herald"]
CMD ["--config", "/site/config/herald.yaml", "run", "--now-first"]
