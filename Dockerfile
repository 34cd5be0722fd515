# Build: a cached dependency layer, then the workspace.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release -p api --bin tenantry && cp target/release/tenantry /tenantry

# Run: a small Debian image with CA certificates and curl for health checks, as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 --home /app tenantry
WORKDIR /app
COPY --from=build /tenantry /usr/local/bin/tenantry
COPY config ./config
RUN mkdir -p /app/data && chown tenantry /app/data
USER tenantry
# Production unless told otherwise: JWT_SECRET (32+ bytes) is then required,
# introspection is off and no demo tenant is seeded.
ENV APP_ENV=production APP_SERVER__HOST=0.0.0.0 PORT=8080
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["tenantry"]
CMD ["serve"]
