package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"sync"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"edgeway.dev/api-spec/openapi"
)

// Contract checks responses against Edgeway's OpenAPI document
// (api-spec/openapi/edgeway-v2.yaml): the status must be documented for the
// operation, and JSON bodies must match the documented schema.
type Contract struct {
	router routers.Router
}

var contract struct {
	once sync.Once
	c    *Contract
	err  error
}

// LoadContract returns the contract of the embedded OpenAPI document,
// loaded once per process.
func LoadContract() (*Contract, error) {
	contract.once.Do(func() {
		doc, err := openapi.Load()
		if err != nil {
			contract.err = err
			return
		}
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			contract.err = fmt.Errorf("openapi router: %w", err)
			return
		}
		contract.c = &Contract{router: r}
	})
	return contract.c, contract.err
}

// Check validates one exchange. Requests to paths the document does not
// describe are not checked. Only JSON bodies (application/json and
// application/problem+json) are compared with their schema; for other
// bodies only the status and the content type are checked.
func (c *Contract) Check(method, url string, status int, header http.Header, body []byte) error {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return err
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return nil // not a documented path or method
	}
	mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	jsonBody := mt == ContentJSON || mt == ContentProblem
	if resp := route.Operation.Responses.Status(status); resp != nil && resp.Value != nil &&
		len(resp.Value.Content) > 0 && len(body) > 0 && resp.Value.Content.Get(header.Get("Content-Type")) == nil {
		return fmt.Errorf("status %d: content type %q is not documented (documented: %v)", status, header.Get("Content-Type"), slices.Sorted(maps.Keys(resp.Value.Content)))
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			ExcludeResponseBody:   !jsonBody || len(body) == 0,
			MultiError:            true,
		},
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}
