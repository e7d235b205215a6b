// Package openapi holds Edgeway's v2 REST contract, the OpenAPI 3.0.3
// document edgeway-v2.yaml, embedded in the binary.
//
// The document keeps EMCO's v2 paths, JSON field names, multipart forms and
// status codes. Besides describing the API it drives request validation: the
// REST engine looks up the operation of each (path template, method) pair and
// validates the decoded request body with the operation's schema, found at
//
//	requestBody.content["application/json"].schema                       (JSON bodies)
//	requestBody.content["multipart/form-data"].schema.properties.metadata (multipart uploads)
//
// Path parameter names in the document are the router's variable names.
//
// Raw returns the document's bytes (e.g. to serve it); Load parses, resolves
// and validates it once and returns the same *openapi3.T on every call. The
// returned document is shared: callers must treat it as read-only.
package openapi
