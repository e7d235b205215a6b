//go:build tools

// Package tools pins the versions of the code generators that
// scripts/generate.sh runs (through protogen), so go.mod and go.sum decide
// exactly which protoc-gen-go and protoc-gen-go-grpc produce api-spec/gen.
package tools

import (
	_ "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
