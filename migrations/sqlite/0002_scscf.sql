-- S-CSCF registrar (services/scscf/registrar): registrations keyed by the registered IMPU, an index from
-- every IMPU of the implicit set to its registration, and reg event subscriptions (RFC 3680). The record
-- itself is JSON (contacts, Path, profile, HSS session); the columns are what the registrar looks up by.
-- Times are Unix milliseconds.
CREATE TABLE scscf_registration (
    impu       TEXT    NOT NULL PRIMARY KEY,
    impi       TEXT    NOT NULL,
    expires_ms INTEGER NOT NULL,
    data       TEXT    NOT NULL
);
CREATE INDEX scscf_registration_impi ON scscf_registration (impi);
CREATE INDEX scscf_registration_expires ON scscf_registration (expires_ms);

CREATE TABLE scscf_registration_identity (
    identity TEXT NOT NULL PRIMARY KEY,
    impu     TEXT NOT NULL REFERENCES scscf_registration (impu) ON DELETE CASCADE
);
CREATE INDEX scscf_registration_identity_impu ON scscf_registration_identity (impu);

CREATE TABLE scscf_subscription (
    id         TEXT    NOT NULL PRIMARY KEY,
    impu       TEXT    NOT NULL,
    expires_ms INTEGER NOT NULL,
    data       TEXT    NOT NULL
);
CREATE INDEX scscf_subscription_impu ON scscf_subscription (impu);
CREATE INDEX scscf_subscription_expires ON scscf_subscription (expires_ms);
