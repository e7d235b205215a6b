// Package clusterregistry is Edgeway's cluster registry: it owns cluster
// providers, clusters (their kubeconfigs, sealed by the secrets service),
// cluster labels and kv-pairs, serves them under /v2/cluster-providers, and
// answers other services over gRPC (edgeway.clusterregistry.v1): clusters by
// name or label for everyone, sealed kubeconfigs for the deployer only.
package clusterregistry
