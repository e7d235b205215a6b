package clusterregistry

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"sigs.k8s.io/yaml"

	"edgeway.dev/common/httpx"
)

// kubeconfig is the part of a kubeconfig the registry checks.
type kubeconfig struct {
	Kind     string `json:"kind"`
	Clusters []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server string `json:"server"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		Name string         `json:"name"`
		User map[string]any `json:"user"`
	} `json:"users"`
}

// CheckKubeconfig refuses files that are not a kubeconfig with at least one
// cluster reachable over https, and kubeconfigs whose users run plug-ins
// (exec, auth-provider): Edgeway never runs code a cluster owner uploaded.
func CheckKubeconfig(data []byte) error {
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
	for _, c := range kc.Clusters {
		u, err := url.Parse(c.Cluster.Server)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("kubeconfig cluster %q: server must be an https URL", c.Name)
		}
	}
	for _, u := range kc.Users {
		for _, plugin := range []string{"exec", "auth-provider"} {
			if _, ok := u.User[plugin]; ok {
				return httpx.Errorf(http.StatusUnprocessableEntity,
					fmt.Sprintf("kubeconfig user %q uses an %s plug-in, which Edgeway refuses to run", u.Name, plugin))
			}
		}
	}
	return nil
}
