package render

import (
	"fmt"
	"sort"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/strvals"
)

// userValues layers the profile values and the overrides the way
// `helm template -f profile.yaml --set k=v ...` does. The chart's own
// values.yaml goes underneath later, when Helm coalesces.
func userValues(profile []byte, overrides map[string]string) (map[string]any, error) {
	vals, err := chartutil.ReadValues(profile)
	if err != nil {
		return nil, fmt.Errorf("%w: profile values: %w", ErrInvalidInput, err)
	}
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := strvals.ParseInto(k+"="+overrides[k], vals); err != nil {
			return nil, fmt.Errorf("%w: override %q: %w", ErrInvalidInput, k, err)
		}
	}
	return vals, nil
}
