// Command edgeway is Edgeway's launcher. `edgeway serve --target=all --dev`
// runs every service in one process (still talking gRPC over mTLS on
// loopback) with embedded FerretDB and etcd under --data-dir; a comma list
// of targets runs a subset, so the same binary deploys as one process or as
// one process per service. `edgeway dev-stores` runs only the embedded
// stores, for several serve processes to share.
package main
