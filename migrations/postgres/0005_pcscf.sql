-- P-CSCF bindings (services/pcscf/bindings): a row per registered contact (TS 24.229 §5.2.2; RFC 5626/5627
-- contact identity), written behind the P-CSCF's memory, and a row per IMS-AKA SA set of it. version is compared
-- and set on every write (two P-CSCFs on one database never overwrite each other blindly); owner is the P-CSCF
-- (node_id) that wrote the row last, whose start loads it. ik and ck are the SA keys (docs/security.md).
-- Times are Unix milliseconds, 0 for none; associated and service_route hold one URI per line.
CREATE TABLE pcscf_binding (
    impu_key       TEXT    NOT NULL,
    contact        TEXT    NOT NULL,
    owner          TEXT    NOT NULL,
    version        BIGINT  NOT NULL,
    impu           TEXT    NOT NULL,
    impi           TEXT    NOT NULL,
    contact_host   TEXT    NOT NULL,
    contact_port   INTEGER NOT NULL,
    transport      TEXT    NOT NULL,
    source         TEXT    NOT NULL,
    associated     TEXT    NOT NULL,
    service_route  TEXT    NOT NULL,
    expires_ms     BIGINT  NOT NULL,
    sub_call_id    TEXT    NOT NULL,
    sub_local_tag  TEXT    NOT NULL,
    sub_peer       TEXT    NOT NULL,
    sub_expires_ms BIGINT  NOT NULL,
    PRIMARY KEY (impu_key, contact)
);
CREATE INDEX pcscf_binding_owner ON pcscf_binding (owner);

CREATE TABLE pcscf_sa (
    impu_key        TEXT    NOT NULL,
    contact         TEXT    NOT NULL,
    position        INTEGER NOT NULL,
    ue_addr         TEXT    NOT NULL,
    ue_port_c       INTEGER NOT NULL,
    ue_port_s       INTEGER NOT NULL,
    ue_spi_c        BIGINT  NOT NULL,
    ue_spi_s        BIGINT  NOT NULL,
    pcscf_addr      TEXT    NOT NULL,
    pcscf_port_c    INTEGER NOT NULL,
    pcscf_port_s    INTEGER NOT NULL,
    pcscf_spi_c     BIGINT  NOT NULL,
    pcscf_spi_s     BIGINT  NOT NULL,
    integrity       TEXT    NOT NULL,
    encryption      TEXT    NOT NULL,
    proto           INTEGER NOT NULL,
    ik              BYTEA   NOT NULL,
    ck              BYTEA   NOT NULL,
    security_server TEXT    NOT NULL,
    security_client TEXT    NOT NULL,
    expires_ms      BIGINT  NOT NULL,
    confirmed       INTEGER NOT NULL,
    outbound_seq    BIGINT  NOT NULL,
    PRIMARY KEY (impu_key, contact, position)
);
