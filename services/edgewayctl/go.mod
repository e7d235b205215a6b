module edgeway.dev/services/edgewayctl

go 1.26.0

require (
	github.com/coreos/go-oidc/v3 v3.21.0
	github.com/spf13/cobra v1.10.2
	github.com/stretchr/testify v1.12.1
	go.yaml.in/yaml/v3 v3.0.5
	golang.org/x/oauth2 v0.37.0
	golang.org/x/term v0.47.0
)

require (
	github.com/go-jose/go-jose/v4 v4.1.4 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace (
	edgeway.dev/api-spec => ../../api-spec
	edgeway.dev/common => ../../common
)
