// Package deployer is Edgeway's deployer service: it owns the runtime state
// of deployments (AppContexts) in etcd and pushes rendered resources to edge
// clusters. In this foundation it serves its gRPC contract
// (edgeway.deployer.v1.Deployer) over the runtime store; applying to real
// clusters arrives with the deploy issue.
package deployer
