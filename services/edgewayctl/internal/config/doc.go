// Package config is edgewayctl's configuration: the Edgeway endpoint, the CA
// file to trust besides the system roots, and the token source (the cached
// tokens of `edgewayctl login`, or client credentials for CI).
//
// Values come from, in increasing precedence: defaults, the config file
// (~/.config/edgeway/config.yaml, $EDGEWAY_CONFIG or --config), the
// environment (EDGEWAY_ENDPOINT, EDGEWAY_CA_FILE, EDGEWAY_CLIENT_ID,
// EDGEWAY_CLIENT_SECRET) and flags (--endpoint, --ca-file).
package config
