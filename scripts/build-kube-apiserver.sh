#!/usr/bin/env bash
# Builds kube-apiserver from source (module tests/kube-apiserver, with only Go)
# into a cache directory outside the repository, and prints the binary's path
# as the last line of stdout. Progress goes to stderr.
#
#   scripts/build-kube-apiserver.sh           build unless the cached binary is
#                                             newer than tests/kube-apiserver's
#                                             go.mod, go.sum and main.go
#   scripts/build-kube-apiserver.sh --force   build even so
#
# Environment:
#   EDGEWAY_KUBE_APISERVER_CACHE  directory that holds the binary; default
#       ${XDG_CACHE_HOME:-$HOME/.cache}/edgeway/kube-apiserver-<version>, where
#       <version> is the k8s.io/kubernetes version in tests/kube-apiserver/go.mod.
#       It must not be inside the repository.
#
# The first build takes about 15 CPU-minutes (8+ minutes on 2 idle cores); later
# ones are skipped, and a rebuild with a warm Go build cache takes ~15 s. Two
# builds of the same cache directory never run at once (flock).
set -euo pipefail

caller=$(pwd)
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd -P)
src=tests/kube-apiserver

force=false
case "${1:-}" in
	"") ;;
	--force) force=true ;;
	-h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v[0-9]/ { print $2; exit }' "$src/go.mod")
if [[ -z "$version" ]]; then
	echo "build-kube-apiserver: no k8s.io/kubernetes version in $src/go.mod" >&2
	exit 1
fi

cache=${EDGEWAY_KUBE_APISERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgeway/kube-apiserver-$version}
[[ "$cache" == /* ]] || cache=$caller/$cache

# The binary (about 115 MB) must never land where git would pick it up.
outside_repo() {
	case "$1/" in
		"$root"/*)
			echo "build-kube-apiserver: cache directory $1 is inside the repository; set EDGEWAY_KUBE_APISERVER_CACHE elsewhere" >&2
			return 1
			;;
	esac
}
# Check before creating anything: resolve the part of the path that exists.
existing=$cache
while [[ ! -d "$existing" ]]; do existing=$(dirname "$existing"); done
outside_repo "$(cd "$existing" && pwd -P)${cache#"$existing"}"
mkdir -p "$cache"
cache=$(cd "$cache" && pwd -P)
outside_repo "$cache"
bin=$cache/kube-apiserver

fresh() {
	[[ -x "$bin" ]] || return 1
	local f
	for f in "$src/go.mod" "$src/go.sum" "$src/main.go"; do
		[[ "$bin" -nt "$f" ]] || return 1
	done
}

build() {
	if ! $force && fresh; then
		return 0
	fi
	# k8s.io/component-base/version is stamped the way upstream's release
	# build does it, so /version and `kubectl version` report the real release.
	local minor=${version#v*.}
	minor=${minor%%.*}
	local pkg=k8s.io/component-base/version
	local ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "build-kube-apiserver: building kube-apiserver $version into $cache (the first time: about 15 CPU-minutes)" >&2
	local start=$SECONDS tmp
	tmp=$(mktemp "$cache/.kube-apiserver.XXXXXX")
	# shellcheck disable=SC2064 # expand $tmp now
	trap "rm -f '$tmp'" EXIT
	(cd "$src" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$tmp" .) >&2
	chmod 0755 "$tmp"
	mv -f "$tmp" "$bin"
	trap - EXIT
	echo "build-kube-apiserver: built in $((SECONDS - start)) s" >&2
}

if command -v flock >/dev/null; then
	exec 9>"$cache/.lock"
	flock 9
fi
build
echo "$bin"
