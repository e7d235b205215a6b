// Package harness runs the real Edgeway launcher (`edgeway serve`,
// `edgeway dev-stores`) as child processes for end-to-end tests.
//
// It builds the edgeway binary once per test process (or uses $EDGEWAY_BIN),
// picks free loopback ports, starts servers on a fresh or given data
// directory, waits for /readyz, and hands back a Server with the HTTPS base
// URL, an *http.Client that trusts the dev CA, and Stop / Kill / Restart for
// crash tests. StartDevStores runs only the embedded stores so that several
// `serve` processes with different --target lists can share them (the split
// deployment).
//
// It also carries small request helpers (API, Response) and generators for
// the inputs the API takes: a tiny valid Helm chart archive and a kubeconfig.
//
// Every server's stdout and stderr go to a file under the test's temporary
// directory; when a test fails, the tail of that file is printed.
package harness
