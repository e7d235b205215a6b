// Package secrets is Edgeway's secrets service: the only holder of keys. It
// seals and unseals values over gRPC (edgeway.secrets.v1.Secrets), with each
// method authorized per calling service.
//
// Until envelope encryption lands (see the data-protection issue), sealing
// is a framed pass-through: values are tagged with the "plain0" format and
// bound to their associated data, so every caller already goes through the
// same gRPC calls and a later keyset can re-seal them in place.
package secrets
