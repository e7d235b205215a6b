package render

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// Limits on what a chart may make Render do. The archive limits apply to the
// chart and all the subchart archives it nests, together.
const (
	// MaxArchiveBytes bounds Input.Chart as uploaded (compressed).
	MaxArchiveBytes = 16 << 20
	// MaxExpandedBytes bounds the summed size of all files in the chart.
	MaxExpandedBytes = 16 << 20
	// MaxFiles bounds the number of archive entries (files, directories).
	MaxFiles = 4096
	// MaxRenderedBytes bounds the summed size of the rendered templates.
	MaxRenderedBytes = 32 << 20
	// KubeVersion is the Kubernetes version templates see in
	// .Capabilities.KubeVersion and Chart.yaml's kubeVersion is checked against.
	KubeVersion = "v1.37.0"
)

var (
	// ErrInvalidInput: the release name, namespace, profile values or
	// overrides are malformed, or the values break the chart's schema.
	ErrInvalidInput = errors.New("invalid render input")
	// ErrInvalidChart: the archive is not a usable application chart.
	ErrInvalidChart = errors.New("invalid chart")
	// ErrRender: a template failed or produced something that is not a
	// Kubernetes object.
	ErrRender = errors.New("chart rendering failed")
	// ErrTooLarge: the chart or its output exceeds a limit; such errors
	// also match ErrInvalidChart or ErrRender.
	ErrTooLarge = errors.New("too large")
)

// Input is one app of a deployment intent group, ready to render.
type Input struct {
	// Chart is the app's chart archive (.tgz) as uploaded.
	Chart []byte
	// ReleaseName is .Release.Name; see ReleaseName.
	ReleaseName string
	// Namespace is .Release.Namespace and the namespace of namespaced
	// objects that do not name one.
	Namespace string
	// ProfileValues is the app profile's values YAML; may be nil. It is
	// deep-merged over the chart's values.yaml.
	ProfileValues []byte
	// Overrides are the DIG's overrideValues for this app, applied last
	// with `helm --set` semantics: key paths such as a.b[0].c, values typed
	// as --set types them, commas in a value separate further key=value
	// pairs. Keys are applied in sorted order.
	Overrides map[string]string
}

// Object is one rendered Kubernetes object.
type Object struct {
	// Manifest is the object as one YAML document, exactly as rendered
	// (Namespace below is not written into it).
	Manifest []byte
	// APIVersion, Kind and Name are taken from the manifest.
	APIVersion, Kind, Name string
	// Namespace is the manifest's metadata.namespace or, when it has none
	// and the kind is namespaced, Input.Namespace. It is empty for
	// cluster-scoped kinds even if the manifest names a namespace.
	Namespace string
	// Source is the file in the chart the object came from, such as
	// mychart/templates/deployment.yaml or mychart/charts/db/crds/x.yaml.
	Source string
	// Hook is empty for ordinary objects and CRDs; for hooks it is the
	// comma-separated list of Helm hook events (pre-install, post-install,
	// pre-upgrade, ...), test events left out.
	Hook string
	// HookWeight is the helm.sh/hook-weight annotation (0 when absent or
	// not an integer).
	HookWeight int
}

// Result is a rendered chart.
type Result struct {
	// CRDs are the documents of the crds/ directories of the chart and its
	// enabled subcharts; they are not templated and go first.
	CRDs []Object
	// Objects are the ordinary manifests in Helm's install order (by kind,
	// then by template path and position in the template).
	Objects []Object
	// Hooks are the non-test hooks sorted by weight, then name.
	Hooks []Object
	// Notes is the chart's rendered templates/NOTES.txt (subcharts' notes
	// are left out, as Helm does by default).
	Notes string
}

// ReleaseName is the Helm release name Edgeway uses for an app of a
// deployment intent group: the app's name. Charts derive object names from
// .Release.Name, and keeping it equal to the app name, whatever the DIG,
// keeps those names stable when an app moves to a new DIG or DIG version,
// so the edge cluster sees an update and not a second copy. dig is accepted
// so callers state the context and the convention can change in one place;
// it does not affect the result today. The name must still pass Render's
// release name check (DNS-1123 subdomain, at most 53 characters).
func ReleaseName(dig, app string) string {
	_ = dig
	return app
}

// Render renders in.Chart client-side. It never contacts a cluster or the
// network and never panics.
func Render(in Input) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("%w: internal error: %v", ErrRender, r)
		}
	}()
	if err := checkInput(in); err != nil {
		return nil, err
	}
	chrt, err := loadChart(in.Chart)
	if err != nil {
		return nil, err
	}
	vals, err := userValues(in.ProfileValues, in.Overrides)
	if err != nil {
		return nil, err
	}
	if err := prepareDependencies(chrt, vals); err != nil {
		return nil, err
	}

	caps := capabilities()
	if c := chrt.Metadata.KubeVersion; c != "" && !chartutil.IsCompatibleRange(c, caps.KubeVersion.Version) {
		return nil, fmt.Errorf("%w: chart requires kubeVersion %s which is incompatible with Kubernetes %s", ErrInvalidChart, c, caps.KubeVersion.Version)
	}
	opts := chartutil.ReleaseOptions{Name: in.ReleaseName, Namespace: in.Namespace, Revision: 1, IsInstall: true}
	// Schema validation is done by validateSchemas, not by Helm, whose
	// validator would fetch remote and file $refs.
	top, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, vals, opts, caps, true)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	if err := validateSchemas(chrt, top["Values"].(chartutil.Values)); err != nil {
		return nil, err
	}

	// The zero Engine has no cluster: `lookup` returns an empty map and
	// getHostByName an empty string.
	files, err := engine.Engine{}.Render(chrt, top)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRender, err)
	}
	total := 0
	for _, f := range files {
		total += len(f)
	}
	if total > MaxRenderedBytes {
		return nil, fmt.Errorf("%w: %w: templates rendered to %d bytes, more than %d", ErrRender, ErrTooLarge, total, MaxRenderedBytes)
	}
	notes := takeNotes(files, chrt.Name())
	return assemble(chrt, files, in.Namespace, notes)
}

// dns1123Label is what Kubernetes accepts as a namespace name (with at
// most 63 characters).
var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func checkInput(in Input) error {
	if err := chartutil.ValidateReleaseName(in.ReleaseName); err != nil {
		return fmt.Errorf("%w: release name %q: %w", ErrInvalidInput, in.ReleaseName, err)
	}
	if len(in.Namespace) > 63 || !dns1123Label.MatchString(in.Namespace) {
		return fmt.Errorf("%w: namespace %q is not a DNS-1123 label", ErrInvalidInput, in.Namespace)
	}
	if len(in.Chart) > MaxArchiveBytes {
		return fmt.Errorf("%w: %w: chart archive is %d bytes, more than %d", ErrInvalidChart, ErrTooLarge, len(in.Chart), MaxArchiveBytes)
	}
	if len(in.ProfileValues) > MaxExpandedBytes {
		return fmt.Errorf("%w: %w: profile values are %d bytes, more than %d", ErrInvalidInput, ErrTooLarge, len(in.ProfileValues), MaxExpandedBytes)
	}
	return nil
}

// capabilities are those of `helm template` with the Kubernetes version
// pinned to KubeVersion.
func capabilities() *chartutil.Capabilities {
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(KubeVersion)
	if err != nil {
		panic(err) // KubeVersion is a constant
	}
	caps.KubeVersion = *kv
	return caps
}

// prepareDependencies does what `helm install` does to the loaded chart
// before rendering: refuse library charts and missing dependencies, then
// drop disabled subcharts and apply import-values.
func prepareDependencies(chrt *chart.Chart, vals map[string]any) error {
	if strings.EqualFold(chrt.Metadata.Type, "library") {
		return fmt.Errorf("%w: %s is a library chart, which cannot be installed", ErrInvalidChart, chrt.Name())
	}
	var missing []string
	for _, d := range chrt.Metadata.Dependencies {
		if d != nil && !hasDependency(chrt, d.Name) {
			missing = append(missing, d.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: found in Chart.yaml, but missing in charts/ directory: %s", ErrInvalidChart, strings.Join(missing, ", "))
	}
	sortDependencies(chrt)
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidChart, err)
	}
	return nil
}

func hasDependency(chrt *chart.Chart, name string) bool {
	for _, d := range chrt.Dependencies() {
		if d.Name() == name {
			return true
		}
	}
	return false
}

// sortDependencies orders subcharts by name, at every level: the loader
// adds them in map order, which would make the order of CRDs vary.
func sortDependencies(chrt *chart.Chart) {
	deps := append([]*chart.Chart(nil), chrt.Dependencies()...)
	sort.SliceStable(deps, func(i, j int) bool { return deps[i].Name() < deps[j].Name() })
	chrt.SetDependencies(deps...)
	for _, d := range deps {
		sortDependencies(d)
	}
}

// takeNotes removes every NOTES.txt from files and returns the top-level
// chart's.
func takeNotes(files map[string]string, chartName string) string {
	const notesFile = "NOTES.txt"
	notes := files[path.Join(chartName, "templates", notesFile)]
	for name := range files {
		if strings.HasSuffix(name, notesFile) {
			delete(files, name)
		}
	}
	return notes
}
