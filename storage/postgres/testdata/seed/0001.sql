-- Seed for schema version 0001: the data of hsstest.SeedSubscriber (read hss/hsstest/seed.go).
INSERT INTO hss_shared_ifc_set (id, ifcs, created_at, updated_at) VALUES
    (1, '[{"priority":5,"application_server":{"server_name":"sip:as.seed","default_handling":1}}]',
     '2024-01-02 03:04:05.123456+00', '2024-01-02 03:04:05.123456+00');
INSERT INTO hss_service_profile (id, media_profile_id, ifcs, created_at, updated_at) VALUES
    ('seed', 3, '[{"priority":1,"trigger_point":{"condition_type_cnf":true,"spt":[{"group":[0],"method":"INVITE"}]},"application_server":{"server_name":"sip:as.seed","default_handling":0}}]',
     '2024-01-02 03:04:05.123456+00', '2024-01-02 03:04:05.123456+00');
INSERT INTO hss_service_profile_shared_ifc_set (profile_id, set_id) VALUES ('seed', 1);
INSERT INTO hss_impi (impi, imsi, msisdn, k, op, opc, amf, sqn, auth_schemes, digest_password, digest_ha1,
                      visited_networks, capabilities, charging, created_at, updated_at) VALUES
    ('seed@ims.mnc001.mcc001.3gppnetwork.org', '001019999999999', '15559999',
     '\x465b5ce8b199b49faa5f0a2ee238a6bc'::bytea, '\xcdc202d5123e20f62b6d676ac72cb318'::bytea, NULL, '\x8000'::bytea, 12345, 1, '', '',
     '["visited.seed"]', '{"mandatory":[1]}', '{"primary_ccf":"aaa://ccf.seed"}',
     '2024-01-02 03:04:05.123456+00', '2024-01-02 03:04:05.123456+00');
INSERT INTO hss_impu (impu, identity_type, wildcard_prefix, barred, display_name, implicit_set, service_profile_id,
                      reg_state, scscf_name, scscf_origin_host, pending_scscf, created_at, updated_at) VALUES
    ('sip:001019999999999@ims.mnc001.mcc001.3gppnetwork.org', 0, NULL, TRUE, '', 'seed@ims.mnc001.mcc001.3gppnetwork.org',
     'seed', 1, 'sip:scscf.seed:6060', 'scscf.seed', '', '2024-01-02 03:04:05.123456+00', '2024-01-02 03:04:05.123456+00'),
    ('tel:15559999', 0, NULL, FALSE, '', 'seed@ims.mnc001.mcc001.3gppnetwork.org',
     'seed', 1, 'sip:scscf.seed:6060', 'scscf.seed', '', '2024-01-02 03:04:05.123456+00', '2024-01-02 03:04:05.123456+00');
INSERT INTO hss_impi_impu (impi, impu, registered) VALUES
    ('seed@ims.mnc001.mcc001.3gppnetwork.org', 'sip:001019999999999@ims.mnc001.mcc001.3gppnetwork.org', TRUE),
    ('seed@ims.mnc001.mcc001.3gppnetwork.org', 'tel:15559999', TRUE);
INSERT INTO hss_scscf (name, mandatory, optional, updated_at) VALUES
    ('sip:scscf.seed:6060', '[1]', '[2]', '2024-01-02 03:04:05.123456+00');
INSERT INTO hss_default_charging (id, charging, updated_at) VALUES
    (1, '{"primary_ccf":"aaa://default.seed"}', '2024-01-02 03:04:05.123456+00');
