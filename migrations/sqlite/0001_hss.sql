-- 0001: HSS subscriber data (TS 23.008 §5, TS 29.228 Annex B/E). Same model as postgres/0001_hss.sql;
-- read the comments there. SQLite specifics: TIMESTAMP columns hold text the driver parses back into
-- time values, BOOLEAN columns hold 0/1, JSON is TEXT, and TEXT compares in byte order (BINARY).

CREATE TABLE hss_service_profile (
    id               TEXT NOT NULL PRIMARY KEY,
    media_profile_id INTEGER,
    ifcs             TEXT NOT NULL DEFAULT '[]',
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);

CREATE TABLE hss_shared_ifc_set (
    id         INTEGER NOT NULL PRIMARY KEY,
    ifcs       TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE hss_service_profile_shared_ifc_set (
    profile_id TEXT NOT NULL REFERENCES hss_service_profile (id) ON DELETE CASCADE,
    set_id     INTEGER NOT NULL REFERENCES hss_shared_ifc_set (id),
    PRIMARY KEY (profile_id, set_id)
) WITHOUT ROWID;
CREATE INDEX hss_service_profile_shared_ifc_set_set ON hss_service_profile_shared_ifc_set (set_id);

CREATE TABLE hss_impi (
    impi             TEXT NOT NULL PRIMARY KEY,
    imsi             TEXT NOT NULL DEFAULT '',
    msisdn           TEXT NOT NULL DEFAULT '',
    k                BLOB,
    op               BLOB,
    opc              BLOB,
    amf              BLOB NOT NULL,
    sqn              INTEGER NOT NULL DEFAULT 0 CHECK (sqn >= 0 AND sqn < 281474976710656),
    auth_schemes     INTEGER NOT NULL DEFAULT 0,
    digest_password  TEXT NOT NULL DEFAULT '',
    digest_ha1       TEXT NOT NULL DEFAULT '',
    visited_networks TEXT NOT NULL DEFAULT '[]',
    capabilities     TEXT,
    charging         TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    CHECK (op IS NULL OR opc IS NULL)
);
CREATE UNIQUE INDEX hss_impi_imsi ON hss_impi (imsi) WHERE imsi <> '';
CREATE INDEX hss_impi_msisdn ON hss_impi (msisdn) WHERE msisdn <> '';

CREATE TABLE hss_impu (
    impu               TEXT NOT NULL PRIMARY KEY,
    identity_type      INTEGER NOT NULL DEFAULT 0,
    wildcard_prefix    TEXT,
    barred             BOOLEAN NOT NULL DEFAULT 0,
    display_name       TEXT NOT NULL DEFAULT '',
    implicit_set       TEXT NOT NULL,
    service_profile_id TEXT NOT NULL REFERENCES hss_service_profile (id),
    reg_state          INTEGER NOT NULL DEFAULT 0,
    scscf_name         TEXT NOT NULL DEFAULT '',
    scscf_origin_host  TEXT NOT NULL DEFAULT '',
    pending_scscf      TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE INDEX hss_impu_implicit_set ON hss_impu (implicit_set);
CREATE INDEX hss_impu_service_profile ON hss_impu (service_profile_id);
CREATE INDEX hss_impu_wildcard ON hss_impu (wildcard_prefix) WHERE wildcard_prefix IS NOT NULL;

CREATE TABLE hss_impi_impu (
    impi       TEXT NOT NULL REFERENCES hss_impi (impi) ON DELETE CASCADE,
    impu       TEXT NOT NULL REFERENCES hss_impu (impu) ON DELETE CASCADE,
    registered BOOLEAN NOT NULL DEFAULT 0,
    PRIMARY KEY (impi, impu)
) WITHOUT ROWID;
CREATE INDEX hss_impi_impu_impu ON hss_impi_impu (impu);

CREATE TABLE hss_scscf (
    name       TEXT NOT NULL PRIMARY KEY,
    mandatory  TEXT NOT NULL DEFAULT '[]',
    optional   TEXT NOT NULL DEFAULT '[]',
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE hss_default_charging (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    charging   TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
