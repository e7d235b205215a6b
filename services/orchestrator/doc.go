// Package orchestrator is Edgeway's orchestrator service: it owns projects,
// composite apps and their Helm charts, profiles, deployment intent groups,
// intents, logical clouds and the controller registry, serves them under
// /v2/projects and /v2/controllers, and answers other services' questions
// about them over gRPC (edgeway.orchestrator.v1.Orchestrator), including
// Authorize: the project RBAC for the REST routes other services serve
// under a project (the secrets service's /v2/projects/{project}/secrets).
//
// A DIG override value "$projectSecret:NAME" renders as NAME, and the app's
// clusters get a Secret NAME in the app's namespace that only refers to the
// project secret (annotation edgeway.dev/project-secret); the deployer puts
// the values in. A project that has secrets cannot be deleted.
package orchestrator
