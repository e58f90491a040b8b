// Package n5 is the AF side of Npcf_PolicyAuthorization (TS 29.514, the N5 reference point towards a
// 5GC PCF): the JSON types of the resources the P-CSCF creates and the notifications it receives
// (TS 29.514 §5.6, data types of TS 29.571), an HTTP/2 client (TS 29.500 §5.2: HTTP/2 over TLS, or
// without TLS with prior knowledge, "h2c") and the decoding of the PCF's callbacks. The types follow
// the OpenAPI of TS 29.514 V16.17.0 (API 1.1.7), which the tests validate every body against
// (testdata/openapi, from github.com/jdegre/5GC_APIs tag Rel-16).
package n5
