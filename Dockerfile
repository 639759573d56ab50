# syntax=docker/dockerfile:1
# wasmgate in a container: a static binary (no cgo) on a small base, run as
# a non-root user. The config is /etc/wasmgate/gateway.yaml: mount a
# directory holding yours over /etc/wasmgate (deploy/README.md).
#
#   docker build -t wasmgate --build-arg VERSION=$(git describe --tags --always) .
#   docker run -p 8080:8080 -v $PWD/conf:/etc/wasmgate:ro wasmgate
#
# HEALTHCHECK asks the admin API's /readyz on 127.0.0.1:9901 from inside the
# container, so it works whether admin.address is 127.0.0.1:9901 or
# 0.0.0.0:9901; a config with the admin API on another port needs
# `docker run --health-cmd` (or HEALTHCHECK NONE) to match.

FROM golang:1.26-alpine AS build
WORKDIR /src
# Modules first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/wasmgate ./cmd/wasmgate

FROM alpine:3.22
# ca-certificates: TLS to upstreams, JWKS and OTLP endpoints. busybox's
# wget (in the base) is the health check's client.
RUN apk add --no-cache ca-certificates \
 && addgroup -S -g 10001 wasmgate \
 && adduser -S -D -H -u 10001 -G wasmgate -s /sbin/nologin wasmgate \
 && mkdir -p /etc/wasmgate /var/lib/wasmgate \
 && chown wasmgate:wasmgate /var/lib/wasmgate
COPY --from=build /out/wasmgate /usr/local/bin/wasmgate
COPY deploy/docker/gateway.yaml /etc/wasmgate/gateway.yaml
USER 10001:10001
# The Wasm compilation cache goes to $HOME/.cache/wasmgate (or $WASMGATE_CACHE_DIR).
ENV HOME=/var/lib/wasmgate
WORKDIR /var/lib/wasmgate
EXPOSE 8080 9901
# SIGTERM drains (server.drain_delay, then server.drain_timeout); give
# `docker stop -t` at least their sum.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["wget", "-q", "-O", "/dev/null", "-T", "2", "http://127.0.0.1:9901/readyz"]
ENTRYPOINT ["/usr/local/bin/wasmgate"]
CMD ["serve", "-c", "/etc/wasmgate/gateway.yaml", "--log-format", "json"]
