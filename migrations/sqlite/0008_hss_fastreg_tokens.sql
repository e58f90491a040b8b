-- 0008: access-bound fast registration at the HSS (issue 18). Same model as
-- postgres/0008_hss_fastreg_tokens.sql; read the comments there.
CREATE TABLE hss_fastreg (
    impi       TEXT PRIMARY KEY REFERENCES hss_impi (impi) ON DELETE CASCADE,
    enabled    BOOLEAN NOT NULL DEFAULT FALSE,
    token      BLOB,
    expires_at INTEGER NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL
) WITHOUT ROWID;
CREATE INDEX hss_fastreg_expiry ON hss_fastreg (expires_at) WHERE token IS NOT NULL;
