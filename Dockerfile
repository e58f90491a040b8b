# imscore: one image with the four nodes (hss, icscf, scscf, pcscf) and imsctl, used by docker-compose.yml.
# Each compose service runs one of the binaries; the configuration is mounted per node (deploy/compose/).
#
#   docker build -t imscore .        (or: docker-compose build)
#
# Nothing here was built on the development machine: it has no Docker engine. CI checks docker-compose.yml with
# `docker-compose config -q` and the node configurations with `go test ./deploy/`.

# --- build: static binaries -----------------------------------------------------------------------------------
# go.mod asks for go 1.25.0 or newer; the project is developed and tested with 1.26.
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so that a source change does not download them again (a layer of its own).
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
# CGO_ENABLED=0: pure-Go binaries (modernc.org/sqlite, pgx, netlink), statically linked, so the runtime image
# needs no libc of a matching version. -trimpath: no build paths in the binaries. -buildvcs=false: .git is not
# in the build context (.dockerignore), so `--version` prints the release without the git revision.
RUN mkdir -p /out && \
    for c in hss icscf scscf pcscf imsctl; do \
      CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags='-s -w' -o /out/$c ./cmd/$c || exit 1; \
    done

# --- runtime ---------------------------------------------------------------------------------------------------
# Alpine rather than distroless: the compose health checks probe each node's /readyz over HTTP, and no node binary
# has a probe mode of its own, so the image needs an HTTP client. Alpine's busybox provides `wget` (exit status 1 on
# any HTTP error, so a 503 from /readyz marks the container unhealthy) in an ~8 MB base. The P-CSCF needs nothing
# else for IPsec: it programs XFRM through netlink itself (no ip/setkey binaries).
FROM alpine:3.22
# One unprivileged user for the nodes; its home /var/lib/imscore is the working directory, so relative paths of
# the defaults (./var/…) and named volumes mounted there belong to it. The P-CSCF's compose service runs as root
# instead: Docker grants cap_add capabilities (NET_ADMIN for XFRM) to root processes only.
RUN addgroup -S -g 10001 imscore && \
    adduser -S -D -H -u 10001 -G imscore -h /var/lib/imscore imscore && \
    mkdir -p /var/lib/imscore /etc/imscore && \
    chown imscore:imscore /var/lib/imscore
COPY --from=build /out/ /usr/local/bin/
WORKDIR /var/lib/imscore
USER imscore
# HSS Cx, HSS API+metrics; I-CSCF SIP, admin; S-CSCF SIP, admin; P-CSCF SIP, protected ports, admin (DESIGN.md §2).
EXPOSE 3868/tcp 8080/tcp 4060/udp 4060/tcp 9102/tcp 6060/udp 6060/tcp 9103/tcp 5060/udp 5060/tcp \
       5100-5107/udp 5100-5107/tcp 6100-6107/udp 6100-6107/tcp 9101/tcp
# No ENTRYPOINT: each service names its binary, e.g. `command: ["hss", "--config", "/etc/imscore/hss.yaml"]`.
CMD ["imsctl", "--version"]
