package devidp

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	authRequestTTL   = 10 * time.Minute
	deviceCodeTTL    = 10 * time.Minute
	devicePoll       = 5 * time.Second
	refreshIdle      = 8 * time.Hour
	refreshMax       = 7 * 24 * time.Hour
	maxPending       = 1000  // pending login requests, and pending device codes
	maxRefreshTokens = 10000 // live refresh tokens
	maxLoginFailures = 5     // wrong passwords per login request or device code
)

var (
	errNotFound       = errors.New("not found or expired")
	errBadCredentials = errors.New("invalid username or password")
	errTooMany        = errors.New("too many pending requests")
)

// storage implements op.Storage, op.ClientCredentialsStorage and
// op.DeviceAuthorizationStorage. Users and clients come from idp.json;
// login requests, codes, device codes and refresh tokens live in memory.
type storage struct {
	users    *stateCache
	key      *signingKey
	public   *publicClient
	lifetime time.Duration
	log      *slog.Logger

	mu           sync.Mutex
	authRequests map[string]*authRequest
	codes        map[string]string // authorization code → auth request id
	refresh      map[string]*refreshEntry
	devices      map[string]*deviceEntry // device code → entry
	userCodes    map[string]string       // user code → device code
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.ClientCredentialsStorage       = (*storage)(nil)
	_ op.DeviceAuthorizationStorage     = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
)

func newStorage(users *stateCache, key *signingKey, public *publicClient, lifetime time.Duration, log *slog.Logger) *storage {
	return &storage{
		users:        users,
		key:          key,
		public:       public,
		lifetime:     lifetime,
		log:          log,
		authRequests: map[string]*authRequest{},
		codes:        map[string]string{},
		refresh:      map[string]*refreshEntry{},
		devices:      map[string]*deviceEntry{},
		userCodes:    map[string]string{},
	}
}

// sweepLocked drops expired login requests, device codes and refresh tokens.
func (s *storage) sweepLocked(now time.Time) {
	for id, a := range s.authRequests {
		if a.expired(now) {
			s.deleteAuthRequestLocked(id)
		}
	}
	for dc, e := range s.devices {
		if now.After(e.state.Expires.Add(time.Minute)) {
			delete(s.devices, dc)
			delete(s.userCodes, e.userCode)
		}
	}
	for k, e := range s.refresh {
		if now.After(e.expires) {
			delete(s.refresh, k)
		}
	}
}
