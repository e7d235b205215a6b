package cli

import (
	"path/filepath"
	"testing"
)

// shopTemplate is an emcoctl-style file rendered with values: a project, a
// composite app of the charts in .Apps, a composite profile with a profile
// per app, an admin logical cloud, a deployment intent group placing every
// app on the clusters labelled .Label, and approve + instantiate.
const shopTemplate = `# emcoctl-style resources, rendered with -v values.yaml
version: emco/v2
resourceContext:
  anchor: projects
metadata:
  name: {{.Project}}
  description: {{.Description}}
---
version: emco/v2
resourceContext:
  anchor: projects/{{.Project}}/composite-apps
metadata:
  name: {{.CompositeApp}}
spec:
  compositeAppVersion: {{.Version}}
{{- range .Apps}}
---
version: emco/v2
resourceContext:
  anchor: projects/{{$.Project}}/composite-apps/{{$.CompositeApp}}/{{$.Version}}/apps
metadata:
  name: {{.name}}
  description: chart {{.chart}}
file: {{.chart}}
{{- end}}
---
version: emco/v2
resourceContext:
  anchor: projects/{{.Project}}/composite-apps/{{.CompositeApp}}/{{.Version}}/composite-profiles
metadata:
  name: {{.CompositeApp}}-profile
{{- range .Apps}}
---
version: emco/v2
resourceContext:
  anchor: projects/{{$.Project}}/composite-apps/{{$.CompositeApp}}/{{$.Version}}/composite-profiles/{{$.CompositeApp}}-profile/profiles
metadata:
  name: {{.name}}-profile
spec:
  app: {{.name}}
file: {{.profile}}
{{- end}}
---
version: emco/v2
resourceContext:
  anchor: projects/{{.Project}}/logical-clouds
metadata:
  name: {{.Project}}-cloud
spec:
  namespace: default
  level: "0"
---
version: emco/v2
resourceContext:
  anchor: projects/{{.Project}}/composite-apps/{{.CompositeApp}}/{{.Version}}/deployment-intent-groups
metadata:
  name: {{.DIG}}
spec:
  compositeProfile: {{.CompositeApp}}-profile
  version: r1
  logicalCloud: {{.Project}}-cloud
  overrideValues:
  - app: {{(index .Apps 0).name}}
    values:
      message: {{.Message | printf "%q"}}
---
version: emco/v2
resourceContext:
  anchor: projects/{{.Project}}/composite-apps/{{.CompositeApp}}/{{.Version}}/deployment-intent-groups/{{.DIG}}/generic-placement-intents
metadata:
  name: placement
{{- range .Apps}}
---
version: emco/v2
resourceContext:
  anchor: projects/{{$.Project}}/composite-apps/{{$.CompositeApp}}/{{$.Version}}/deployment-intent-groups/{{$.DIG}}/generic-placement-intents/placement/app-intents
metadata:
  name: {{.name}}
spec:
  app: {{.name}}
  intent:
    allOf:
    - clusterProvider: local
      clusterLabel: {{$.Label}}
{{- end}}
---
version: emco/v2
resourceContext:
  anchor: projects/{{.Project}}/composite-apps/{{.CompositeApp}}/{{.Version}}/deployment-intent-groups/{{.DIG}}/intents
metadata:
  name: intents
spec:
  intent:
    genericPlacementIntent: placement
---
version: emco/v2
resourceContext:
  anchor: projects/{{.Project}}/composite-apps/{{.CompositeApp}}/{{.Version}}/deployment-intent-groups/{{.DIG}}/approve
---
version: emco/v2
resourceContext:
  anchor: projects/{{.Project}}/composite-apps/{{.CompositeApp}}/{{.Version}}/deployment-intent-groups/{{.DIG}}/instantiate
`

// app is one chart of a shop file: its name (the Helm release, so the
// objects' names) and its templates.
type app struct {
	name      string
	templates map[string]string
	profile   string // the profile's override values
}

// shop writes a resource file, its values file and the charts and profiles
// into a new directory and returns the paths of the file and the values.
func shop(t *testing.T, project, message string, apps ...app) (file, values string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{"shop.yaml": []byte(shopTemplate)}
	vals := "Project: " + project + "\nDescription: deployed by edgewayctl\nCompositeApp: shop\nVersion: v1\nDIG: edge\nLabel: edge\n" +
		"Message: " + message + "\nApps:\n"
	for _, a := range apps {
		files["charts/"+a.name+".tgz"] = chart(t, a.name, "message: from-chart\n", a.templates)
		p := a.profile
		if p == "" {
			p = "{}\n"
		}
		files["profiles/"+a.name+".tgz"] = profile(t, p)
		vals += "- {name: " + a.name + ", chart: charts/" + a.name + ".tgz, profile: profiles/" + a.name + ".tgz}\n"
	}
	files["values.yaml"] = []byte(vals)
	writeFiles(t, dir, files)
	return filepath.Join(dir, "shop.yaml"), filepath.Join(dir, "values.yaml")
}

// digRef is the status argument of the shop files' group.
func digRef(project string) string { return project + "/shop/v1/edge" }

// digPath is the API path of the shop files' group.
func digPath(project string) string {
	return "/projects/" + project + "/composite-apps/shop/v1/deployment-intent-groups/edge"
}
