-- 0008: access-bound fast registration at the HSS (issue 18, docs/fastreg.md "Core side").
--
-- One row per private identity that the operator has provisioned for the scheme:
--   enabled     the per-subscriber switch (provisioning API, `imsctl fastreg`); the HSS's global switch
--               (fastreg.enabled in its configuration) must be on as well.
--   token       the token the access agent (PAA) pushed for this IMPI (Token-Push), exporter output of the
--               UE's EAP-TLS session; NULL when none. One token per IMPI: a new push replaces it.
--   expires_at  when the token stops being valid, Unix milliseconds (the access session's lifetime from
--               the push); an expired token is never returned and is cleared by the HSS's sweep.
-- The token is cleared on Token-Drop (PANA termination), on expiry, and when the switch is turned off; the
-- row goes with the private identity.
CREATE TABLE hss_fastreg (
    impi       TEXT COLLATE "C" PRIMARY KEY REFERENCES hss_impi (impi) ON DELETE CASCADE,
    enabled    BOOLEAN NOT NULL DEFAULT FALSE,
    token      BYTEA,
    expires_at BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX hss_fastreg_expiry ON hss_fastreg (expires_at) WHERE token IS NOT NULL;
