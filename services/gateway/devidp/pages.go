package devidp

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// pages serves the login page of the authorization code flow and the
// verification page of the device flow. Both are server-rendered forms
// (html/template escapes every value), accept credentials by POST only, and
// carry the flow they belong to (the login request id, the user code) in the
// form itself; cross-origin POSTs are refused by http.CrossOriginProtection.
type pages struct {
	store    *storage
	prefix   string // the issuer's path, e.g. /dev-idp
	callback func(ctx context.Context, id string) string
	log      *slog.Logger
}

const (
	loginPath     = "/login"
	devicePath    = "/device"
	loggedOutPath = "/logged-out"
	maxForm       = 16 << 10
)

// routes registers the pages on mux, each wrapped by wrap.
func (p *pages) routes(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	mux.Handle("GET "+loginPath, wrap(http.HandlerFunc(p.loginForm)))
	mux.Handle("POST "+loginPath, wrap(http.HandlerFunc(p.login)))
	mux.Handle("GET "+devicePath, wrap(http.HandlerFunc(p.deviceForm)))
	mux.Handle("POST "+devicePath, wrap(http.HandlerFunc(p.device)))
	mux.Handle("GET "+loggedOutPath, wrap(http.HandlerFunc(p.loggedOut)))
}

// loggedOut is where the end_session endpoint sends a browser that gave no
// post_logout_redirect_uri. There is no browser session to end: logging out
// drops the client's refresh tokens.
func (p *pages) loggedOut(w http.ResponseWriter, _ *http.Request) {
	p.render(w, http.StatusOK, "message", "You are signed out.")
}

type loginView struct {
	Action   string
	ID       string
	ClientID string
	Username string
	Error    string
}

type deviceView struct {
	Action   string
	UserCode string
	ClientID string
	Scopes   string
	Username string
	Error    string
}

func (p *pages) loginForm(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	clientID, err := p.store.pendingLogin(id)
	if err != nil {
		p.render(w, http.StatusBadRequest, "message", "This login request is unknown or has expired. Start the login again from the application.")
		return
	}
	p.render(w, http.StatusOK, "login", loginView{Action: p.prefix + loginPath, ID: id, ClientID: clientID})
}

func (p *pages) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		p.render(w, http.StatusBadRequest, "message", "The form could not be read.")
		return
	}
	id, username := r.PostForm.Get("id"), r.PostForm.Get("username")
	err := p.store.checkLogin(id, username, r.PostForm.Get("password"))
	switch {
	case errors.Is(err, errBadCredentials):
		clientID, perr := p.store.pendingLogin(id)
		if perr != nil { // too many failures ended the request
			p.render(w, http.StatusUnauthorized, "message", "Too many failed attempts. Start the login again from the application.")
			return
		}
		p.render(w, http.StatusUnauthorized, "login", loginView{Action: p.prefix + loginPath, ID: id, ClientID: clientID, Username: username, Error: "Invalid username or password."})
		return
	case errors.Is(err, errNotFound):
		p.render(w, http.StatusBadRequest, "message", "This login request is unknown or has expired. Start the login again from the application.")
		return
	case err != nil:
		p.serverError(w, err)
		return
	}
	http.Redirect(w, r, p.callback(r.Context(), id), http.StatusSeeOther)
}

// normalizeUserCode accepts what a person types: any case, with or
// without the dash.
func normalizeUserCode(s string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		if strings.ContainsRune(op.CharSetBase20, c) {
			b.WriteRune(c)
		}
	}
	code := b.String()
	if len(code) == op.UserCodeBase20.CharAmount {
		code = code[:4] + "-" + code[4:]
	}
	return code
}

func (p *pages) deviceForm(w http.ResponseWriter, r *http.Request) {
	v := deviceView{Action: p.prefix + devicePath}
	if raw := r.URL.Query().Get("user_code"); raw != "" {
		v.UserCode = normalizeUserCode(raw)
		if st, err := p.store.pendingDevice(v.UserCode); err == nil {
			v.ClientID, v.Scopes = st.ClientID, strings.Join(st.Scopes, " ")
		} else {
			v.Error = "This code is unknown or has expired."
		}
	}
	p.render(w, http.StatusOK, "device", v)
}

func (p *pages) device(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		p.render(w, http.StatusBadRequest, "message", "The form could not be read.")
		return
	}
	v := deviceView{
		Action:   p.prefix + devicePath,
		UserCode: normalizeUserCode(r.PostForm.Get("user_code")),
		Username: r.PostForm.Get("username"),
	}
	var approve bool
	switch r.PostForm.Get("action") {
	case "approve":
		approve = true
	case "deny":
	default:
		v.Error = "Choose approve or deny."
		p.render(w, http.StatusBadRequest, "device", v)
		return
	}
	err := p.store.decideDevice(v.UserCode, v.Username, r.PostForm.Get("password"), approve)
	switch {
	case errors.Is(err, errBadCredentials):
		v.Error = "Invalid username or password."
		if st, perr := p.store.pendingDevice(v.UserCode); perr == nil {
			v.ClientID, v.Scopes = st.ClientID, strings.Join(st.Scopes, " ")
		}
		p.render(w, http.StatusUnauthorized, "device", v)
		return
	case errors.Is(err, errNotFound):
		v.Error = "This code is unknown or has expired."
		p.render(w, http.StatusBadRequest, "device", v)
		return
	case err != nil:
		p.serverError(w, err)
		return
	}
	if approve {
		p.log.Info("device authorization approved", "username", v.Username)
		p.render(w, http.StatusOK, "message", "Device approved. You can return to your device.")
		return
	}
	p.log.Info("device authorization denied", "username", v.Username)
	p.render(w, http.StatusOK, "message", "Device access denied.")
}

func (p *pages) serverError(w http.ResponseWriter, err error) {
	p.log.Error("login page", "error", err)
	p.render(w, http.StatusInternalServerError, "message", "The identity provider cannot check credentials right now. See its log.")
}

// render writes a page with headers that keep it out of frames and caches.
func (p *pages) render(w http.ResponseWriter, status int, name string, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := pageTemplates.ExecuteTemplate(w, name, data); err != nil {
		p.log.Error("render page", "page", name, "error", err)
	}
}

var pageTemplates = template.Must(template.New("pages").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Edgeway dev login</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}
main{max-width:22rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.25rem;margin-top:0}label{display:block;margin:.75rem 0 .25rem}
input{width:100%;box-sizing:border-box;padding:.5rem}button{margin-top:1rem;padding:.5rem 1rem}
.error{color:#b00020}.note{color:#555;font-size:.875rem}
</style></head><body><main>{{end}}
{{define "foot"}}<p class="note">Edgeway development identity provider — not for production.</p></main></body></html>{{end}}

{{define "login"}}{{template "head"}}
<h1>Sign in to Edgeway</h1>
{{if .ClientID}}<p class="note">Application: {{.ClientID}}</p>{{end}}
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="id" value="{{.ID}}">
<label for="username">Username</label><input id="username" name="username" value="{{.Username}}" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
{{template "foot"}}{{end}}

{{define "device"}}{{template "head"}}
<h1>Connect a device</h1>
{{if .ClientID}}<p class="note">Application <b>{{.ClientID}}</b> asks for access{{if .Scopes}} ({{.Scopes}}){{end}}.</p>{{end}}
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<label for="user_code">Code shown on the device</label><input id="user_code" name="user_code" value="{{.UserCode}}" autocomplete="off" required>
<label for="username">Username</label><input id="username" name="username" value="{{.Username}}" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny">Deny</button>
</form>
{{template "foot"}}{{end}}

{{define "message"}}{{template "head"}}
<p>{{.}}</p>
{{template "foot"}}{{end}}
`))
