// Package render turns an uploaded Helm chart (.tgz) plus an app profile's
// values and a deployment intent group's overrides into the Kubernetes
// objects the orchestrator pushes to edge clusters, the way `helm template`
// would, with the Helm v3 SDK and without ever contacting a cluster.
//
// Render loads the chart, layers the values (chart defaults < profile values
// < DIG overrides with `--set` semantics), enforces the charts'
// values.schema.json, renders the templates with a fixed set of
// capabilities (Kubernetes v1.37.0, `lookup` always empty, no DNS) and
// returns the result split the way an installer needs it: CRDs from the
// charts' crds/ directories first, then the ordinary objects in Helm's
// install order, then the install/upgrade/delete/rollback hooks by weight.
// Test hooks are dropped.
//
// Everything a chart author controls is treated as untrusted: archive and
// expanded sizes are bounded, panics are turned into errors, and a
// values.schema.json that refers to anything outside itself (an http(s) or
// file URL) is rejected instead of fetched.
//
// Errors wrap one of ErrInvalidInput, ErrInvalidChart, ErrRender and
// ErrTooLarge so that the API edge can map them to statuses.
package render
