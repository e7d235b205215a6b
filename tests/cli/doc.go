// Package cli holds the end-to-end tests of edgewayctl: the real CLI binary
// (built once per test process, or $EDGEWAYCTL_BIN) against the real
// all-in-one edgeway server (tests/harness) and, for deployments, real
// kube-apiservers (tests/edgecluster) checked with client-go.
//
// The tests cover emcoctl-style files with values (apply, get, delete -f),
// the CI rollout and its exit codes, the device-flow and browser logins
// against the dev identity provider with token refresh, and status --watch
// in a pipe and in a pseudo-terminal.
package cli
