// Package e2e drives the real Edgeway launcher (built from
// services/edgeway) over HTTPS and checks the REST contract end to end:
// every resource family's CRUD and error statuses, chart round trips,
// kubeconfig secrecy, cross-service reference checks, concurrent creates,
// request ids, the HTTP→HTTPS redirect and TLS, the admin endpoints, crash
// recovery after SIGKILL, and a split deployment where the services run in
// separate processes that share `edgeway dev-stores`.
//
// The scenarios (runResourceFamilies, runChartRoundTrip, …) take an API
// (base URL + client), so the same tables run against the all-in-one
// process and against the split deployment. Tests that do not need a server
// of their own share one all-in-one server started on first use. Every
// response is also checked against api-spec/openapi/edgeway-v2.yaml
// (documented status, content type and JSON schema).
//
// Running:
//
//	cd tests && go test ./e2e/                    # builds the launcher once (~10 s warm)
//	EDGEWAY_BIN=/path/to/edgeway go test ./e2e/   # use a prebuilt binary
//	go test -short ./e2e/                         # skips the package
//	E2E_KEEP=1 go test ./e2e/                     # keep the shared server's log on failure
//
// When a test fails, the tail of the relevant server log is printed.
package e2e
