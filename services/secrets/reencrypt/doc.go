// Package reencrypt moves sealed values onto the secrets service's primary
// key after a rotation (SECURITY.md, S1). It is for the services that own
// sealed records (the cluster registry's kubeconfigs, the deployer's
// Secret manifests): each runs a Job over its own records, with its own
// iteration and its own compare-and-swap write.
//
// A Job is idempotent and resumable: a value already sealed with the
// primary key (told by the key id in tink's ciphertext prefix, see KeyID)
// is skipped without a call, so a job stopped halfway is simply run again
// and redoes nothing. It depends only on the generated gRPC API, not on
// the secrets service's keys.
package reencrypt
