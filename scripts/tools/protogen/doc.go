// Command protogen generates the Go code for Edgeway's protobuf APIs without
// protoc: it compiles every .proto file under a root directory with
// github.com/bufbuild/protocompile (the protoc standard imports such as
// google/protobuf/timestamp.proto are built in), builds the
// CodeGeneratorRequest protoc would send, and runs the standard plugins
// protoc-gen-go and protoc-gen-go-grpc on it, writing their output files.
//
// The plugins' versions are pinned by this module's go.mod (see tools.go);
// unless -plugin_dir names a directory of prebuilt plugins, protogen builds
// them with `go build`, so it must run inside the workspace (or this module).
//
// Usually run through scripts/generate.sh from the repository root:
//
//	go run ./scripts/tools/protogen -proto_path api-spec/proto -out api-spec/gen \
//		-opt module=edgeway.dev/api-spec/gen
//
// which writes api-spec/gen/<service>/v1/<service>.pb.go and
// <service>_grpc.pb.go for each api-spec/proto/edgeway/<service>/v1/*.proto.
// Stale *.pb.go files under the output directory are deleted unless
// -prune=false.
package main
