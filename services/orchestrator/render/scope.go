package render

import (
	"strings"

	"sigs.k8s.io/yaml"
)

// clusterScopedKinds are the built-in cluster-scoped kinds of Kubernetes
// (up to v1.37), by "group/Kind" with "" for the core group. Kinds not here
// are namespaced unless a CRD of the chart says otherwise.
var clusterScopedKinds = map[string]bool{
	"/Namespace":        true,
	"/Node":             true,
	"/PersistentVolume": true,
	"/ComponentStatus":  true,

	"admissionregistration.k8s.io/MutatingWebhookConfiguration":     true,
	"admissionregistration.k8s.io/ValidatingWebhookConfiguration":   true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicy":        true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding": true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicy":          true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicyBinding":   true,
	"apiextensions.k8s.io/CustomResourceDefinition":                 true,
	"apiregistration.k8s.io/APIService":                             true,
	"authentication.k8s.io/TokenReview":                             true,
	"authentication.k8s.io/SelfSubjectReview":                       true,
	"authorization.k8s.io/SubjectAccessReview":                      true,
	"authorization.k8s.io/SelfSubjectAccessReview":                  true,
	"authorization.k8s.io/SelfSubjectRulesReview":                   true,
	"certificates.k8s.io/CertificateSigningRequest":                 true,
	"certificates.k8s.io/ClusterTrustBundle":                        true,
	"flowcontrol.apiserver.k8s.io/FlowSchema":                       true,
	"flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration":       true,
	"internal.apiserver.k8s.io/StorageVersion":                      true,
	"networking.k8s.io/IngressClass":                                true,
	"networking.k8s.io/IPAddress":                                   true,
	"networking.k8s.io/ServiceCIDR":                                 true,
	"node.k8s.io/RuntimeClass":                                      true,
	"policy/PodSecurityPolicy":                                      true,
	"rbac.authorization.k8s.io/ClusterRole":                         true,
	"rbac.authorization.k8s.io/ClusterRoleBinding":                  true,
	"resource.k8s.io/DeviceClass":                                   true,
	"resource.k8s.io/ResourceSlice":                                 true,
	"resource.k8s.io/DeviceTaintRule":                               true,
	"scheduling.k8s.io/PriorityClass":                               true,
	"storage.k8s.io/CSIDriver":                                      true,
	"storage.k8s.io/CSINode":                                        true,
	"storage.k8s.io/StorageClass":                                   true,
	"storage.k8s.io/VolumeAttachment":                               true,
	"storage.k8s.io/VolumeAttributesClass":                          true,
	"storagemigration.k8s.io/StorageVersionMigration":               true,
}

// scopes knows which kinds are cluster-scoped: the built-in ones and those
// defined by the chart's own CRDs (crds/ or templates) with scope Cluster.
type scopes map[string]bool

func chartScopes(res *Result) scopes {
	s := scopes{}
	for _, list := range [][]Object{res.CRDs, res.Objects, res.Hooks} {
		for _, o := range list {
			if group(o.APIVersion) != "apiextensions.k8s.io" || o.Kind != "CustomResourceDefinition" {
				continue
			}
			var crd struct {
				Spec struct {
					Group string `json:"group"`
					Scope string `json:"scope"`
					Names struct {
						Kind string `json:"kind"`
					} `json:"names"`
				} `json:"spec"`
			}
			if yaml.Unmarshal(o.Manifest, &crd) != nil || crd.Spec.Names.Kind == "" {
				continue // the API server will refuse it; nothing to learn here
			}
			s[crd.Spec.Group+"/"+crd.Spec.Names.Kind] = crd.Spec.Scope == "Cluster"
		}
	}
	return s
}

func (s scopes) clusterScoped(apiVersion, kind string) bool {
	gk := group(apiVersion) + "/" + kind
	if clusterScopedKinds[gk] {
		return true
	}
	return s[gk]
}

// group is the API group of an apiVersion ("" for the core group "v1").
func group(apiVersion string) string {
	g, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return ""
	}
	return g
}
