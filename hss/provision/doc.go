// Package provision is the HSS provisioning API: HTTP and JSON under /api/v1/, for operators (imsctl)
// and provisioning systems. It changes subscribers, public identities, service profiles with their
// initial filter criteria, shared iFC sets, S-CSCF capabilities and charging addresses in the hss.Store,
// bulk-imports subscribers from NDJSON, shows registration state, and starts the network-initiated Cx
// procedures through the HSS's Cx server: de-registration (RTR, TS 29.228 §6.1.3) and profile push
// (PPR, TS 29.228 §6.2.2), the latter also whenever a change touches a registered user.
//
// The HSS mounts the handler in its HTTP server:
//
//	api, err := provision.NewHandler(provision.Options{Store: store, Network: cxServer, Log: log,
//		Guard: httpauth.NewGuard(tokens, log)})
//	mux.Handle("/api/v1/", api)
//
// Every route requires a bearer token with its scope (read, provision or admin; routes() declares them),
// refuses state-changing requests a browser sends from another origin and bodies that are not JSON (NDJSON for
// the import), and writes an audit line (logger "audit": token name, route, subscriber, outcome) for every
// request that may change something.
//
// Every route, member and error is documented in docs/provisioning.md. In short:
//
//	POST   /api/v1/subscribers                       create (default identities of TS 23.003 §13)
//	GET    /api/v1/subscribers?imsi=&msisdn=&impu=&prefix=&limit=&cursor=
//	POST   /api/v1/subscribers:import                NDJSON bulk import
//	GET    /api/v1/subscribers/{impi}                PATCH, DELETE (RTR first when registered)
//	PUT    /api/v1/subscribers/{impi}/keys
//	POST   /api/v1/subscribers/{impi}/impus          PUT, DELETE …/impus/{impu}
//	POST   /api/v1/subscribers/{impi}/links          DELETE …/links/{impu}
//	GET    /api/v1/subscribers/{impi}/registration
//	POST   /api/v1/subscribers/{impi}/deregister     RTR: 202 and the operation (?wait=true: the outcome)
//	POST   /api/v1/subscribers/{impi}/push-profile   PPR: 202 and the operation (?wait=true: the outcome)
//	GET    /api/v1/operations[?impi=&state=&limit=]  RTRs and PPRs started, GET …/operations/{id}
//	…      /api/v1/profiles[/{id}], /api/v1/ifc-sets[/{id}], /api/v1/scscfs[/{name}]
//	PUT    /api/v1/charging/default
//
// Errors are JSON, `{"error": "...", "field": "k", "code": "invalid_field"}` (see Error and Code).
// K, OP, OPc and passwords are write-only: responses say has_k, has_op, has_opc, has_password, and
// neither they nor request bodies are ever logged. Client is the Go client imsctl uses.
package provision
