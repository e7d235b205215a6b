// Package secrets is Edgeway's secrets service: the only holder of keys
// (SECURITY.md, S1, S3). It seals and unseals values over gRPC
// (edgeway.secrets.v1.Secrets), each method authorized per calling service,
// and serves the owners' re-encryption jobs (edgeway.secrets.v1.Keys).
//
// Sealing is tink AEAD envelope encryption: AES-256-GCM with a random
// nonce, the associated data binding a value to its record and field, and
// the sealing key's id in tink's 5-byte output prefix. A value that does
// not decrypt — damaged, moved to another record, sealed with a retired
// key, or a leftover "plain0" placeholder value — is an error, never
// returned as it is stored.
//
// The keys are a tink keyset behind a KeySource: a JSON file of mode 0600
// (FileKeySource), outside the databases' directories, optionally encrypted
// at rest by a master AEAD standing in for a KMS. The running service
// re-reads the file when it changes (checked at most once per second), so
// Rotate and Retire — the `edgeway keys` commands — apply without a
// restart. Package reencrypt moves the owners' records to a new primary
// key.
//
// The service also owns the project secrets (collection "secrets", REST
// /v2/projects/{project}/secrets): write-only string values, sealed per
// secret for "secrets/projects/<p>/secrets/<name>#data" before they are
// stored, with only the key names in clear; reads return the key names.
// Every REST request is authenticated here and authorized by the
// orchestrator's project RBAC (Orchestrator.Authorize with the caller's
// token: any role reads names, owners write, others get 404), and every
// mutation and refusal is audited (stream "secrets"). The ProjectSecrets
// gRPC service lists them (the orchestrator) and hands their sealed values
// to the deployer, which alone may unseal them. A background job moves
// them to the primary key after a rotation.
package secrets
