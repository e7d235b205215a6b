// Package deploy holds Edgeway's deployment end-to-end tests: the real
// edgeway binary (tests/harness) deploying Helm charts to real
// kube-apiservers (tests/edgecluster), checked with client-go, not through
// Edgeway.
package deploy
