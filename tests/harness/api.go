package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Content types the API speaks.
const (
	ContentJSON      = "application/json"
	ContentProblem   = "application/problem+json"
	ContentMultipart = "multipart/form-data"
	ContentOctet     = "application/octet-stream"
)

// API sends requests to one Edgeway REST API (the /v2 prefix included in
// BaseURL) and returns whole responses. Its methods never follow redirects.
type API struct {
	// BaseURL is e.g. https://127.0.0.1:40123/v2.
	BaseURL string
	HTTP    *http.Client
	// Header is added to every request (e.g. Authorization).
	Header http.Header
	// Contract, when set, checks every response that Do returns against the
	// OpenAPI document; a violation fails the test (without stopping it).
	Contract *Contract
}

// Response is a fully read HTTP response.
type Response struct {
	Method string
	Path   string
	Status int
	Header http.Header
	Body   []byte
}

// String renders the response for failure messages, body cut at 2 KiB.
func (r *Response) String() string {
	body := r.Body
	const max = 2048
	cut := ""
	if len(body) > max {
		body, cut = body[:max], fmt.Sprintf("… (%d bytes)", len(r.Body))
	}
	return fmt.Sprintf("%s %s → %d %s\n%s%s", r.Method, r.Path, r.Status, r.Header.Get("Content-Type"), body, cut)
}

// Do sends a request with an optional body and content type. extra headers
// are added last. Transport errors fail t.
func (a *API) Do(t testing.TB, method, path, contentType string, body []byte, extra http.Header) *Response {
	t.Helper()
	resp, err := a.TryDo(method, path, contentType, body, extra)
	require.NoError(t, err, "%s %s", method, path)
	if a.Contract != nil {
		if err := a.Contract.Check(method, a.BaseURL+path, resp.Status, resp.Header, resp.Body); err != nil {
			t.Errorf("response breaks the OpenAPI contract: %v\n%s", err, resp)
		}
	}
	return resp
}

// TryDo is Do returning transport errors instead of failing a test; use it
// from goroutines.
func (a *API) TryDo(method, path, contentType string, body []byte, extra http.Header) (*Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, a.BaseURL+path, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range a.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	for k, vs := range extra {
		req.Header[k] = append([]string(nil), vs...)
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return &Response{Method: method, Path: path, Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// Get sends GET path.
func (a *API) Get(t testing.TB, path string) *Response {
	t.Helper()
	return a.Do(t, http.MethodGet, path, "", nil, nil)
}

// GetAccept sends GET path with an Accept header ("" sends none).
func (a *API) GetAccept(t testing.TB, path, accept string) *Response {
	t.Helper()
	if accept == "" {
		return a.Get(t, path)
	}
	return a.Do(t, http.MethodGet, path, "", nil, http.Header{"Accept": {accept}})
}

// Delete sends DELETE path.
func (a *API) Delete(t testing.TB, path string) *Response {
	t.Helper()
	return a.Do(t, http.MethodDelete, path, "", nil, nil)
}

// JSON sends method path with v as an application/json body; see JSONBytes
// for how v is encoded.
func (a *API) JSON(t testing.TB, method, path string, v any) *Response {
	t.Helper()
	return a.Do(t, method, path, ContentJSON, JSONBytes(t, v), nil)
}

// PostJSON sends POST path with a JSON body.
func (a *API) PostJSON(t testing.TB, path string, v any) *Response {
	t.Helper()
	return a.JSON(t, http.MethodPost, path, v)
}

// PutJSON sends PUT path with a JSON body.
func (a *API) PutJSON(t testing.TB, path string, v any) *Response {
	t.Helper()
	return a.JSON(t, http.MethodPut, path, v)
}

// Multipart sends method path as multipart/form-data with a "metadata" part
// (see JSONBytes) and, when file is not nil, a "file" part.
func (a *API) Multipart(t testing.TB, method, path string, metadata any, file []byte) *Response {
	t.Helper()
	ct, body := MultipartBody(t, metadata, file)
	return a.Do(t, method, path, ct, body, nil)
}

// JSONBytes encodes v: []byte, json.RawMessage and string are sent as they
// are, nil as no body, anything else through encoding/json.
func JSONBytes(t testing.TB, v any) []byte {
	t.Helper()
	switch v := v.(type) {
	case nil:
		return nil
	case []byte:
		return v
	case json.RawMessage:
		return v
	case string:
		return []byte(v)
	}
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// MultipartBody builds a multipart/form-data body the way emcoctl does: a
// form field "metadata" holding JSON (see JSONBytes) and a form file "file"
// (left out when file is nil).
func MultipartBody(t testing.TB, metadata any, file []byte) (contentType string, body []byte) {
	t.Helper()
	ct, b, err := EncodeMultipart(metadata, file)
	require.NoError(t, err)
	return ct, b
}

// EncodeMultipart is MultipartBody returning errors, for goroutines.
func EncodeMultipart(metadata any, file []byte) (contentType string, body []byte, err error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if metadata != nil {
		var meta []byte
		switch m := metadata.(type) {
		case []byte:
			meta = m
		case json.RawMessage:
			meta = m
		case string:
			meta = []byte(m)
		default:
			if meta, err = json.Marshal(m); err != nil {
				return "", nil, err
			}
		}
		fw, err := w.CreateFormField("metadata")
		if err != nil {
			return "", nil, err
		}
		if _, err := fw.Write(meta); err != nil {
			return "", nil, err
		}
	}
	if file != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="file.tgz"`)
		h.Set("Content-Type", ContentOctet)
		fw, err := w.CreatePart(h)
		if err != nil {
			return "", nil, err
		}
		if _, err := fw.Write(file); err != nil {
			return "", nil, err
		}
	}
	if err := w.Close(); err != nil {
		return "", nil, err
	}
	return w.FormDataContentType(), buf.Bytes(), nil
}

// Require fails t unless the response has the given status.
func (r *Response) Require(t testing.TB, status int) *Response {
	t.Helper()
	require.Equal(t, status, r.Status, "unexpected status:\n%s", r)
	return r
}

// Decode unmarshals the JSON body into v.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "body is not the expected JSON:\n%s", r)
}

// Object decodes the body as a JSON object.
func (r *Response) Object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.Decode(t, &m)
	return m
}

// Array decodes the body as a JSON array.
func (r *Response) Array(t testing.TB) []any {
	t.Helper()
	var a []any
	r.Decode(t, &a)
	require.NotNil(t, a, "list body is null, want an array:\n%s", r)
	return a
}

// Problem is an RFC 9457 problem document as Edgeway renders errors.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"requestId"`
}

// RequireProblem fails t unless the response has the given status and an
// application/problem+json body whose status matches and which carries a
// title and a request id.
func (r *Response) RequireProblem(t testing.TB, status int) Problem {
	t.Helper()
	r.Require(t, status)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	require.Equal(t, ContentProblem, mt, "error content type:\n%s", r)
	var p Problem
	r.Decode(t, &p)
	require.Equal(t, status, p.Status, "problem status:\n%s", r)
	require.NotEmpty(t, p.Title, "problem title:\n%s", r)
	require.NotEmpty(t, p.RequestID, "problem requestId:\n%s", r)
	return p
}

// Parts parses a multipart response body into its parts, keyed by form
// name (or part index when a part has none).
func (r *Response) Parts(t testing.TB) map[string][]byte {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	require.NoError(t, err, "content type:\n%s", r)
	require.True(t, strings.HasPrefix(mt, "multipart/"), "want a multipart response:\n%s", r)
	mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
	parts := map[string][]byte{}
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "multipart body:\n%s", r)
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		name := p.FormName()
		if name == "" {
			name = fmt.Sprint(i)
		}
		parts[name] = b
	}
	return parts
}
