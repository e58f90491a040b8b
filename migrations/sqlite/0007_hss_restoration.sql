-- 0007: S-CSCF restoration information at the HSS (TS 23.380 §5.2, TS 29.228 §6.1.2.1). Same model as
-- postgres/0007_hss_restoration.sql; read the comments there.
CREATE TABLE hss_restoration (
    impi         TEXT NOT NULL REFERENCES hss_impi (impi) ON DELETE CASCADE,
    implicit_set TEXT NOT NULL,
    info         BLOB NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (implicit_set, impi)
) WITHOUT ROWID;
CREATE INDEX hss_restoration_impi ON hss_restoration (impi);
