-- Presence server and XDMS state (services/presence/store). Times are Unix milliseconds; records are JSON
-- in the data column, the other columns are what lookups use.
-- Publications (RFC 3903 §6): one per presentity and entity-tag.
CREATE TABLE presence_publication (
    presentity TEXT    NOT NULL,
    etag       TEXT    NOT NULL,
    expires_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    data       TEXT    NOT NULL,
    PRIMARY KEY (presentity, etag)
);
CREATE INDEX presence_publication_expires ON presence_publication (expires_ms);
-- Subscriptions this server is the notifier of (RFC 6665 §4.2.2).
CREATE TABLE presence_subscription (
    id         TEXT    NOT NULL PRIMARY KEY,
    presentity TEXT    NOT NULL,
    expires_ms BIGINT NOT NULL,
    data       TEXT    NOT NULL
);
CREATE INDEX presence_subscription_presentity ON presence_subscription (presentity);
CREATE INDEX presence_subscription_expires ON presence_subscription (expires_ms);
-- Registration state from third-party REGISTER (TS 24.229 §5.7.1.1): until_ms 0 = de-registered.
CREATE TABLE presence_registration (
    presentity TEXT    NOT NULL PRIMARY KEY,
    until_ms   BIGINT NOT NULL
);
-- XCAP documents (RFC 4825 §6): application usage, owner (XUI), name.
CREATE TABLE xdms_document (
    auid TEXT NOT NULL,
    xui  TEXT NOT NULL,
    name TEXT NOT NULL,
    etag TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (auid, xui, name)
);
