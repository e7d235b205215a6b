module edgeway.dev/tests

go 1.26.0

require (
	edgeway.dev/api-spec v0.0.0
	edgeway.dev/common v0.0.0
	github.com/stretchr/testify v1.12.1
)

replace (
	edgeway.dev/api-spec => ../api-spec
	edgeway.dev/common => ../common
)
