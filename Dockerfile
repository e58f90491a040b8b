# imscore: one image with the nodes (hss, icscf, scscf, pcscf, presence) and imsctl, used by docker-compose.yml and
# deploy/k8s/. Each container runs one of the binaries; the configuration is mounted per node (deploy/compose/).
#
#   make build && docker build -t imscore:latest .      (or: make build && docker-compose build)
#
# FROM scratch, nothing else: the image builds without any registry (no base image to pull, no RUN step, no
# `# syntax` line that would make BuildKit fetch a frontend), with the classic builder and with BuildKit alike.
# The binaries are the ones `make build` leaves in bin/: CGO_ENABLED=0, pure Go (modernc.org/sqlite, pgx,
# netlink), statically linked, so they need no libc, no loader and no shell. The health check of every node is
# `imsctl health URL` (no shell, wget or curl in the image).
#
# Not in the image: CA certificates (nothing here dials TLS with the system's roots: Diameter TLS, PostgreSQL's
# sslrootcert and imsctl --ca-file name their CA files; mount a bundle and set SSL_CERT_FILE if yours does) and
# tzdata (every node logs and stores UTC).
FROM scratch
# root, and imscore (10001) whose home is the data directory: the nodes run as imscore, the P-CSCF as root
# (Docker grants cap_add capabilities such as NET_ADMIN, needed for XFRM, to root processes only).
# /etc/passwd and /etc/group, and an empty /var/lib, all owned by root.
COPY deploy/image/rootfs/ /
# The data directory (empty in the build context), owned by imscore: SQLite stores and the P-CSCF's state live
# here, and a named volume or PVC mounted here starts with this owner. Relative defaults (./var/…) land here too.
COPY --chown=10001:10001 deploy/image/data/ /var/lib/imscore/
COPY bin/hss bin/icscf bin/scscf bin/pcscf bin/presence bin/imsctl /usr/local/bin/
# SQLite's temporary files (large sorts, VACUUM) go to TMPDIR; there is no /tmp in the image.
ENV PATH=/usr/local/bin TMPDIR=/var/lib/imscore
WORKDIR /var/lib/imscore
USER 10001:10001
# HSS Cx, HSS API+metrics; I-CSCF SIP, admin; S-CSCF SIP, admin; P-CSCF SIP, protected ports, admin; presence SIP,
# XCAP+admin (docs/design.md §2).
EXPOSE 3868/tcp 8080/tcp 4060/udp 4060/tcp 9102/tcp 6060/udp 6060/tcp 9103/tcp 5060/udp 5060/tcp \
       5100-5107/udp 5100-5107/tcp 6100-6107/udp 6100-6107/tcp 9101/tcp 5065/udp 5065/tcp 8090/tcp
# No ENTRYPOINT: each service names its binary, e.g. `command: ["hss", "--config", "/etc/imscore/hss.yaml"]`.
CMD ["imsctl", "--version"]
