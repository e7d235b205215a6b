// Package devstores runs the embedded stores of `edgeway serve --dev` and of
// the tests, in-process: FerretDB (MongoDB wire protocol on SQLite files) and
// a single-member etcd. Both keep their data in a directory, so a restart on
// the same directory finds it again.
//
// They listen on loopback addresses only: neither has authentication or TLS
// here, so anything else would open the data to the network. Their own logs go
// to the given slog.Logger, and only at warning level and above (FerretDB) or
// error level (etcd).
//
// Connect and ConnectEtcd are the client helpers with the timeouts used
// throughout Edgeway; they work for any MongoDB or etcd, embedded or not.
package devstores
