-- 0007: S-CSCF restoration information at the HSS (TS 23.380 §5.2, TS 29.228 §6.1.2.1).
--
-- An S-CSCF sends SCSCF-Restoration-Info (TS 29.229 §6.3.46) with SAR REGISTRATION, RE_REGISTRATION and
-- RESTORATION: the private identity, one Restoration-Info per contact (Path, Contact, Call-ID, CSeq,
-- the reg event subscription), Registration-Time-Out and SIP-Authentication-Scheme. The HSS keeps it per
-- private identity and implicit registration set, and hands it to another S-CSCF that takes the user over
-- (SAR UNREGISTERED_USER, REGISTRATION, RE_REGISTRATION from a new S-CSCF) so that it can serve the user
-- without a new REGISTER.
--   info  the SCSCF-Restoration-Info AVP exactly as received (header, grouped AVPs, padding): what the HSS
--         answers with, byte for byte, including AVPs it does not know (cx.SCSCFRestorationInfo codec).
-- A row is deleted with the registration it belongs to (every de-registration, RTR, administrative change
-- that ends the registration of the set or of this private identity) in the transaction that ends it.
CREATE TABLE hss_restoration (
    impi         TEXT NOT NULL REFERENCES hss_impi (impi) ON DELETE CASCADE,
    implicit_set TEXT NOT NULL,
    info         BYTEA NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (implicit_set, impi)
);
CREATE INDEX hss_restoration_impi ON hss_restoration (impi);
