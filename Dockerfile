# syntax=docker/dockerfile:1
#
# One image with every diffgate binary: diffgate (serve, check, diff, ...),
# diffgate-github, diffgate-gitlab and the workers diffgate-ciwait,
# -manifests, -impact, -differ and -reporter. Each Kubernetes Deployment
# runs one of them (charts/diffgate).
#
# DuckDB is linked in with cgo, so everything is built and run on glibc
# (Debian 12), not on a static or musl base.
#
#   docker build -t diffgate --build-arg VERSION=$(git describe --tags --always) .
#   docker run --rm -p 8080:8080 diffgate        # diffgate serve, embedded NATS

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=1 GOFLAGS=-buildvcs=false

# The workspace and every module's go.mod and go.sum first, so that the
# download layer is reused until a dependency changes.
# scripts/check-dockerfile.sh fails when a module of go.work is missing here.
COPY go.work go.work.sum ./
COPY shared/go.mod shared/go.sum shared/
COPY workers/go.mod workers/go.sum workers/
COPY apps/github/go.mod apps/github/go.sum apps/github/
COPY apps/gitlab/go.mod apps/gitlab/go.sum apps/gitlab/
COPY apps/diffgate/go.mod apps/diffgate/go.sum apps/diffgate/
COPY charts/diffgate/test/go.mod charts/diffgate/test/go.sum charts/diffgate/test/
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    mkdir -p /out && \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ \
        ./apps/diffgate ./apps/github/cmd/... ./apps/gitlab/cmd/... ./workers/cmd/...

FROM debian:bookworm-slim
ARG VERSION=dev
LABEL org.opencontainers.image.title="diffgate" \
      org.opencontainers.image.description="Data-diff CI for dbt Cloud projects" \
      org.opencontainers.image.source="https://github.com/diffgate/diffgate" \
      org.opencontainers.image.version="${VERSION}"

# The C++ runtime DuckDB links against (libstdc++, libgcc); CA certificates
# for GitHub, GitLab, dbt Cloud, Hightouch and warehouses over TLS; tzdata
# for time zones in warehouse sessions.
RUN apt-get update && \
    apt-get install -y --no-install-recommends libstdc++6 libgcc-s1 ca-certificates tzdata && \
    rm -rf /var/lib/apt/lists/* && \
    groupadd --system --gid 65532 diffgate && \
    useradd --system --uid 65532 --gid 65532 --home-dir /var/lib/diffgate --no-create-home \
        --shell /usr/sbin/nologin diffgate && \
    install -d -o 65532 -g 65532 -m 0750 /var/lib/diffgate

COPY --from=build /out/ /usr/local/bin/

# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# `diffgate serve` keeps the embedded NATS server's data here (data/nats).
WORKDIR /var/lib/diffgate
EXPOSE 8080
CMD ["diffgate", "serve"]
