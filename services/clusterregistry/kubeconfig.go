package clusterregistry

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"sigs.k8s.io/yaml"

	"edgeway.dev/common/httpx"
)

// MaxKubeconfigBytes bounds an uploaded kubeconfig.
const MaxKubeconfigBytes = 256 << 10

// kubeconfig is the part of a kubeconfig the registry checks.
type kubeconfig struct {
	Kind     string `json:"kind"`
	Clusters []struct {
		Name    string         `json:"name"`
		Cluster map[string]any `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		Name string         `json:"name"`
		User map[string]any `json:"user"`
	} `json:"users"`
}

// Refused kubeconfig fields: plug-ins run code on Edgeway's hosts, file
// references read its files, and the rest weaken or redirect TLS.
var (
	refusedUserFields    = []string{"exec", "auth-provider", "tokenFile", "client-certificate", "client-key"}
	refusedClusterFields = []string{"insecure-skip-tls-verify", "certificate-authority", "proxy-url"}
	metadataHosts        = []string{"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)

// KubeconfigChecker validates uploaded kubeconfigs.
type KubeconfigChecker struct {
	// AllowLoopback accepts clusters on loopback addresses (--dev only:
	// local edge clusters).
	AllowLoopback bool
}

// Check refuses files that are not a kubeconfig with at least one cluster
// reachable over https, and kubeconfigs Edgeway must not use: exec or
// auth-provider plug-ins, file references, insecure-skip-tls-verify, a
// proxy, or a server on a link-local or cloud-metadata address (loopback
// too unless allowed). Refusals of a well-formed kubeconfig are 422 naming
// the reason.
func (k KubeconfigChecker) Check(data []byte) error {
	if len(data) > MaxKubeconfigBytes {
		return httpx.Errorf(http.StatusRequestEntityTooLarge, fmt.Sprintf("kubeconfig is larger than %d bytes", MaxKubeconfigBytes))
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return errors.New("not a kubeconfig (YAML could not be parsed)")
	}
	if kc.Kind != "" && kc.Kind != "Config" {
		return fmt.Errorf("not a kubeconfig (kind %q)", kc.Kind)
	}
	if len(kc.Clusters) == 0 {
		return errors.New("kubeconfig has no clusters")
	}
	refuse := func(format string, a ...any) error {
		return httpx.Errorf(http.StatusUnprocessableEntity, fmt.Sprintf(format, a...))
	}
	for _, c := range kc.Clusters {
		for _, f := range refusedClusterFields {
			if v, ok := c.Cluster[f]; ok && v != false && v != "" {
				return refuse("kubeconfig cluster %q sets %s, which Edgeway refuses", c.Name, f)
			}
		}
		server, _ := c.Cluster["server"].(string)
		u, err := url.Parse(server)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return refuse("kubeconfig cluster %q: server must be an https URL", c.Name)
		}
		if reason := k.badHost(u.Hostname()); reason != "" {
			return refuse("kubeconfig cluster %q: server %s is %s", c.Name, u.Hostname(), reason)
		}
	}
	for _, u := range kc.Users {
		for _, f := range refusedUserFields {
			if _, ok := u.User[f]; ok {
				what := f
				switch f {
				case "exec", "auth-provider":
					what = "an " + f + " plug-in, which Edgeway refuses to run"
				default:
					what = "a file reference (" + f + "), which Edgeway refuses to read"
				}
				return refuse("kubeconfig user %q uses %s", u.Name, what)
			}
		}
	}
	return nil
}

// badHost says why a server host is refused, or "".
func (k KubeconfigChecker) badHost(host string) string {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, m := range metadataHosts {
		if h == m {
			return "a cloud metadata service"
		}
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		if k.AllowLoopback {
			return ""
		}
		return "a loopback address (allowed only in --dev)"
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return "" // a DNS name: resolved by the deployer at connect time
	}
	ip = ip.Unmap()
	switch {
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local or cloud metadata address"
	case ip == netip.MustParseAddr("fd00:ec2::254"):
		return "a cloud metadata address"
	case ip.IsLoopback():
		if k.AllowLoopback {
			return ""
		}
		return "a loopback address (allowed only in --dev)"
	case ip.IsUnspecified(), ip.IsMulticast():
		return "not a unicast address"
	}
	return ""
}
