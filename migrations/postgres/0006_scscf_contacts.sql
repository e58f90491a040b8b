-- S-CSCF registrar as rows (services/scscf/registrar, issue 12): the S-CSCF keeps its registrations in memory
-- (registrar.Table) and writes each change behind to these rows; it reads them at start and, in a pool of
-- S-CSCFs on one PostgreSQL, on a miss. Nothing is a JSON record of the whole registration any more:
--   scscf_reg           one registered IMPU (the key) with its IMPI, HSS session, User-Data and version;
--                       every write is a compare-and-set on version (no last-writer-wins between S-CSCFs);
--   scscf_contact       one row per binding (RFC 5626 §4.1/§4.2, TS 24.229 §5.4.1.2.2): binding is
--                       "+sip.instance reg-id" when the contact has an instance-id, else its URI, so two
--                       devices of one IMPU are two rows and one de-registers without touching the other.
--                       Path, Call-ID, CSeq and the contact are what TS 23.380 restoration needs per contact;
--   scscf_reg_identity  the implicit registration set in order (TS 23.228 §5.2.1a);
--   scscf_reg_index     every identity of a set → the registration that claims it (the latest to claim it).
-- Times are Unix milliseconds. scscf_registration and scscf_registration_identity (0002) are no longer read
-- nor written (left in place for a downgrade): a registration made before the upgrade is made again by the
-- UE's next REGISTER, which is challenged as an initial one (docs/scscf.md#state).
CREATE TABLE scscf_reg (
    impu        TEXT    NOT NULL PRIMARY KEY,
    impi        TEXT    NOT NULL,
    version     BIGINT  NOT NULL,
    expires_ms  BIGINT  NOT NULL,
    hss_host    TEXT    NOT NULL DEFAULT '',
    hss_realm   TEXT    NOT NULL DEFAULT '',
    server_name TEXT    NOT NULL DEFAULT '',
    profile     BYTEA
);
CREATE INDEX scscf_reg_impi ON scscf_reg (impi);
CREATE INDEX scscf_reg_expires ON scscf_reg (expires_ms);

CREATE TABLE scscf_contact (
    impu       TEXT    NOT NULL REFERENCES scscf_reg (impu) ON DELETE CASCADE,
    binding    TEXT    NOT NULL,
    pos        INTEGER NOT NULL,
    id         TEXT    NOT NULL DEFAULT '',
    uri        TEXT    NOT NULL,
    params     TEXT    NOT NULL DEFAULT '',
    path       TEXT    NOT NULL DEFAULT '',
    expires_ms BIGINT  NOT NULL,
    call_id    TEXT    NOT NULL DEFAULT '',
    cseq       BIGINT  NOT NULL DEFAULT 0,
    user_agent TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (impu, binding)
);

CREATE TABLE scscf_reg_identity (
    impu         TEXT    NOT NULL REFERENCES scscf_reg (impu) ON DELETE CASCADE,
    pos          INTEGER NOT NULL,
    uri          TEXT    NOT NULL,
    barred       INTEGER NOT NULL DEFAULT 0,
    display_name TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (impu, pos)
);

CREATE TABLE scscf_reg_index (
    identity TEXT NOT NULL PRIMARY KEY,
    impu     TEXT NOT NULL REFERENCES scscf_reg (impu) ON DELETE CASCADE
);
CREATE INDEX scscf_reg_index_impu ON scscf_reg_index (impu);
