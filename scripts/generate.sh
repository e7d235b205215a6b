#!/usr/bin/env bash
# Regenerates the committed Go code for the protobuf APIs:
# api-spec/proto/**/*.proto -> api-spec/gen/<service>/v1/*.pb.go, *_grpc.pb.go.
#
#   scripts/generate.sh           regenerate api-spec/gen in place
#   scripts/generate.sh --check   generate into a temp dir and exit 1 (listing
#                                 the files that differ) when the committed
#                                 api-spec/gen is not up to date
#
# Needs only Go: protoc is replaced by scripts/tools/protogen (protocompile),
# and protoc-gen-go / protoc-gen-go-grpc are built at the versions pinned in
# scripts/tools/go.mod.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

check=false
case "${1:-}" in
	"") ;;
	--check) check=true ;;
	-h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

proto_dir=api-spec/proto
gen_dir=api-spec/gen
module=edgeway.dev/api-spec/gen

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Build the generator and both plugins in one go command, from the tools
# module (its go.mod pins the plugin versions; the go.work includes it). The
# build cache makes this quick after the first run.
(cd scripts/tools && go build -o "$tmp/bin/" \
	./protogen \
	google.golang.org/protobuf/cmd/protoc-gen-go \
	google.golang.org/grpc/cmd/protoc-gen-go-grpc)

out=$gen_dir
if $check; then
	out=$tmp/gen
	mkdir -p "$out"
fi

"$tmp/bin/protogen" -proto_path "$proto_dir" -out "$out" -opt "module=$module" -plugin_dir "$tmp/bin"

if $check; then
	mkdir -p "$gen_dir"
	if ! diff -rq "$gen_dir" "$out" >"$tmp/diff"; then
		echo "generate.sh --check: $gen_dir is out of date with $proto_dir:" >&2
		sed -e "s|$tmp/gen|<generated>|g" "$tmp/diff" >&2
		echo "run scripts/generate.sh and commit the result" >&2
		exit 1
	fi
	echo "generate.sh --check: $gen_dir is up to date"
fi
