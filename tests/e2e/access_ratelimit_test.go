package e2e

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// TestRateLimitPerIdentity floods the gateway with one identity's requests
// (2/s, burst 5): the excess gets 429 with an integer Retry-After of at
// least a second and a problem document, while another identity's requests,
// during the flood and after it, all succeed.
func TestRateLimitPerIdentity(t *testing.T) {
	skipShort(t)
	const burst, flood = 5, 20
	srv := harness.Start(t, harness.Options{RateLimits: true, ExtraArgs: []string{
		"--rate-per-identity=2", "--burst-per-identity=" + strconv.Itoa(burst), "--rate-per-address=0",
	}})
	_, a := newAccessClient(t, srv, "flooder")
	_, b := newAccessClient(t, srv, "bystander")

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers []*harness.Response
		errs    []error
	)
	start := make(chan struct{})
	for range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := a.TryDo(http.MethodGet, "/projects", "", nil, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			answers = append(answers, r)
		}()
	}
	close(start)
	// B during the flood: fewer requests than its own burst.
	for range 3 {
		b.Get(t, "/projects").Require(t, http.StatusOK)
	}
	wg.Wait()
	require.Empty(t, errs)

	var ok, limited int
	var retryAfter int
	for _, r := range answers {
		switch r.Status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			r.RequireProblem(t, http.StatusTooManyRequests)
			ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
			require.NoError(t, err, "Retry-After must be whole seconds:\n%s", r)
			require.GreaterOrEqual(t, ra, 1, "Retry-After:\n%s", r)
			retryAfter = max(retryAfter, ra)
		default:
			t.Errorf("flood answer neither 200 nor 429:\n%s", r)
		}
	}
	t.Logf("flood of %d: %d × 200, %d × 429, Retry-After ≤ %d s", flood, ok, limited, retryAfter)
	require.Positive(t, limited, "no request of the flood was limited")
	require.GreaterOrEqual(t, ok, burst, "the burst must pass")

	// B after the flood.
	for range 2 {
		b.Get(t, "/projects").Require(t, http.StatusOK)
	}
	// A is served again once it waited as told.
	require.Eventually(t, func() bool {
		r, err := a.TryDo(http.MethodGet, "/projects", "", nil, nil)
		return err == nil && r.Status == http.StatusOK
	}, time.Duration(retryAfter+2)*time.Second, 250*time.Millisecond, "A still limited after Retry-After")
}
