// Package rest is the generic resource engine behind Edgeway's EMCO v2 API.
// A service declares its resource families (collection and item path
// templates, body kind, semantic checks) and the engine gives each full CRUD
// with EMCO's status codes, validating every request body against the schema
// the OpenAPI contract (edgeway.dev/api-spec/openapi) declares for that path
// and method. Handlers stay thin: decode, check, call the store, encode.
package rest
