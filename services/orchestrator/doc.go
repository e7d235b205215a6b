// Package orchestrator is Edgeway's orchestrator service: it owns projects,
// composite apps and their Helm charts, profiles, deployment intent groups,
// intents, logical clouds and the controller registry, serves them under
// /v2/projects and /v2/controllers, and answers other services' questions
// about them over gRPC (edgeway.orchestrator.v1.Orchestrator).
package orchestrator
