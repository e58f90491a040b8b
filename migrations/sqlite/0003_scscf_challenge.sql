-- S-CSCF authentication challenges (services/scscf/registrar.Challenge). TS 24.229 §5.4.1.2.1: the S-CSCF keeps
-- the vector it challenged with (RAND, XRES) until the UE answers. Stored, not held in memory, so that the UE's
-- second REGISTER may reach any S-CSCF process sharing this database, or this one after a restart. One per
-- IMPI: a new challenge replaces the earlier one. The record holds XRES, CK and IK: protect this database as
-- the HSS's. Times are Unix milliseconds.
CREATE TABLE scscf_challenge (
    impi       TEXT    NOT NULL PRIMARY KEY,
    nonce      TEXT    NOT NULL,
    expires_ms INTEGER NOT NULL,
    data       TEXT    NOT NULL
);
CREATE INDEX scscf_challenge_expires ON scscf_challenge (expires_ms);
