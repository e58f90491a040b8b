-- 0001: HSS subscriber data (TS 23.008 §5, TS 29.228 Annex B/E).
--
-- Identities are the keys: the IMPI and IMPU strings are what every Cx request carries, so they are the
-- primary keys and the association table references them directly (no id lookups on the hot path, and
-- bulk loading needs no id round trips). Identity columns use the "C" collation so that comparisons are
-- byte order, which makes prefix searches by range exact and index-backed.
--
-- The iFC tree of a service profile is stored as JSONB under its relational profile row: the HSS always
-- reads and writes a profile whole (User-Data is built from all of it), nothing queries inside the tree,
-- and TS 29.228 Annex B keeps growing extensions that would each need a migration as columns. The JSON
-- field names are fixed by the json tags of the hss package types.

CREATE TABLE hss_service_profile (
    id               TEXT COLLATE "C" PRIMARY KEY,
    media_profile_id INTEGER,                       -- SubscribedMediaProfileId; NULL when absent
    ifcs             JSONB NOT NULL DEFAULT '[]',   -- []hss.InitialFilterCriteria
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

-- Shared iFC sets (TS 29.228 Annex E).
CREATE TABLE hss_shared_ifc_set (
    id         INTEGER PRIMARY KEY,
    ifcs       JSONB NOT NULL DEFAULT '[]',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Which shared iFC sets a profile references; a set cannot be deleted while referenced.
CREATE TABLE hss_service_profile_shared_ifc_set (
    profile_id TEXT COLLATE "C" NOT NULL REFERENCES hss_service_profile (id) ON DELETE CASCADE,
    set_id     INTEGER NOT NULL REFERENCES hss_shared_ifc_set (id),
    PRIMARY KEY (profile_id, set_id)
);
CREATE INDEX hss_service_profile_shared_ifc_set_set ON hss_service_profile_shared_ifc_set (set_id);

-- Private identities and their authentication data. K, OP and OPc are stored as given.
CREATE TABLE hss_impi (
    impi             TEXT COLLATE "C" PRIMARY KEY,
    imsi             TEXT COLLATE "C" NOT NULL DEFAULT '',
    msisdn           TEXT COLLATE "C" NOT NULL DEFAULT '',
    k                BYTEA,
    op               BYTEA,
    opc              BYTEA,
    amf              BYTEA NOT NULL,
    sqn              BIGINT NOT NULL DEFAULT 0 CHECK (sqn >= 0 AND sqn < 281474976710656), -- 48 bits
    auth_schemes     INTEGER NOT NULL DEFAULT 0,    -- hss.AuthSchemes bit set
    digest_password  TEXT NOT NULL DEFAULT '',
    digest_ha1       TEXT NOT NULL DEFAULT '',
    visited_networks JSONB NOT NULL DEFAULT '[]',   -- allowed Visited-Network-Identifier values
    capabilities     JSONB,                         -- hss.Capabilities required; NULL when none
    charging         JSONB,                         -- hss.ChargingInfo; NULL uses the default
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CHECK (op IS NULL OR opc IS NULL)
);
CREATE UNIQUE INDEX hss_impi_imsi ON hss_impi (imsi) WHERE imsi <> '';
CREATE INDEX hss_impi_msisdn ON hss_impi (msisdn) WHERE msisdn <> '';

-- Public identities. Registration data is kept per identity and always written for a whole implicit
-- registration set at once (TS 29.228 §6.5), under row locks taken in IMPU order.
CREATE TABLE hss_impu (
    impu               TEXT COLLATE "C" PRIMARY KEY,
    identity_type      SMALLINT NOT NULL DEFAULT 0, -- hss.IdentityType (TS 29.228 Annex B)
    wildcard_prefix    TEXT COLLATE "C",            -- wildcarded types: literal text before the first '!'
    barred             BOOLEAN NOT NULL DEFAULT FALSE,
    display_name       TEXT NOT NULL DEFAULT '',
    implicit_set       TEXT COLLATE "C" NOT NULL,
    service_profile_id TEXT COLLATE "C" NOT NULL REFERENCES hss_service_profile (id),
    reg_state          SMALLINT NOT NULL DEFAULT 0, -- hss.RegistrationState
    scscf_name         TEXT NOT NULL DEFAULT '',
    scscf_origin_host  TEXT NOT NULL DEFAULT '',
    pending_scscf      TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX hss_impu_implicit_set ON hss_impu (implicit_set);
CREATE INDEX hss_impu_service_profile ON hss_impu (service_profile_id);
CREATE INDEX hss_impu_wildcard ON hss_impu (wildcard_prefix) WHERE wildcard_prefix IS NOT NULL;

-- IMPI <-> IMPU, many to many (shared public identities). registered: this IMPI holds a registration of
-- the IMPU (what an RTR for the IMPI de-registers).
CREATE TABLE hss_impi_impu (
    impi       TEXT COLLATE "C" NOT NULL REFERENCES hss_impi (impi) ON DELETE CASCADE,
    impu       TEXT COLLATE "C" NOT NULL REFERENCES hss_impu (impu) ON DELETE CASCADE,
    registered BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (impi, impu)
);
CREATE INDEX hss_impi_impu_impu ON hss_impi_impu (impu);

-- S-CSCFs and their capabilities (TS 29.228 §6.7).
CREATE TABLE hss_scscf (
    name       TEXT COLLATE "C" PRIMARY KEY,
    mandatory  JSONB NOT NULL DEFAULT '[]',
    optional   JSONB NOT NULL DEFAULT '[]',
    updated_at TIMESTAMPTZ NOT NULL
);

-- The default charging function addresses: at most one row.
CREATE TABLE hss_default_charging (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),
    charging   JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
