// Package manifest reads emcoctl-style resource files: multi-document YAML
// where each document names the API collection it belongs to
// (resourceContext.anchor, the path without /v2), the object's metadata,
// an optional spec and optional files (a Helm chart or profile archive, a
// kubeconfig) sent as the multipart "file" part. With values, the file is
// first rendered as a Go text/template.
//
//	version: emco/v2
//	resourceContext:
//	  anchor: projects/{{.Project}}/composite-apps/shop/v1/apps
//	metadata:
//	  name: web
//	file: charts/web-0.1.0.tgz
//
// A document whose anchor ends in a lifecycle verb (approve, instantiate,
// ...) stands for a POST to that verb.
package manifest
