// Package placement is Edgeway's placement service: stateless, it turns the
// generic placement intents of a deployment (allOf / anyOf, by cluster name
// or label) into concrete clusters per app, asking the cluster registry over
// gRPC (edgeway.placement.v1.Placement/Resolve).
package placement
