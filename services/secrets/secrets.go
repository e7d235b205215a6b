package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orchestratorv1 "edgeway.dev/api-spec/gen/orchestrator/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/audit"
	"edgeway.dev/common/auth"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/reqid"
	"edgeway.dev/common/store"
	"edgeway.dev/services/secrets/reencrypt"
)

// Name is the service's identity.
const Name = "secrets"

// Deps are the secrets service's collaborators.
type Deps struct {
	Log *slog.Logger
	// Keys, when set, replaces the file key source Config describes (a
	// KMS-backed source, say). It is never generated into.
	Keys KeySource

	// Project secrets (REST /v2/projects/{project}/secrets, the
	// ProjectSecrets gRPC service and their re-encryption job) need all of
	// the following; without Store the service only seals and unseals.

	// Store is the service's collection ("secrets").
	Store store.Resources
	// Contract holds the request schemas of the REST routes.
	Contract *openapi3.T
	// Orchestrator authorizes each REST request by the project's roles.
	Orchestrator orchestratorv1.OrchestratorClient
	// Auth verifies the bearer token of every REST request.
	Auth *auth.Verifier
	// Audit records every mutation (fail closed) and every refusal.
	Audit *audit.Log
}

// Service is the secrets service.
type Service struct {
	secretsv1.UnimplementedSecretsServer
	cfg      Config
	log      *slog.Logger
	ring     *keyring
	keys     keysServer
	projects *projectSecrets // nil without Deps.Store
	rest     http.Handler

	// The re-encryption job runs under ctx until Close.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New builds the secrets service and loads its keyset: from deps.Keys, or
// from cfg's keyset file, generated on first start in dev mode only.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Log == nil {
		return nil, errors.New("secrets: missing dependency (Log is required)")
	}
	if deps.Store != nil && (deps.Contract == nil || deps.Orchestrator == nil || deps.Auth == nil || deps.Audit == nil) {
		return nil, errors.New("secrets: missing dependency (project secrets need Store, Contract, Orchestrator, Auth and Audit)")
	}
	cfg = cfg.withDefaults()
	ctx := context.Background()
	src := deps.Keys
	if src == nil {
		f, err := cfg.FileKeySource()
		if err != nil {
			return nil, err
		}
		if err := ensureKeyset(ctx, f, cfg.Dev, deps.Log); err != nil {
			return nil, err
		}
		if f.Master == nil && !cfg.Dev {
			deps.Log.Warn("keyset file is not encrypted at rest: give a master key (--secrets-master-key-file) or a KMS", "keyset_file", f.Path)
		}
		src = f
	}
	ring, err := newKeyring(ctx, src, deps.Log)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	k := ring.cur.Load()
	deps.Log.Info("keyset loaded", "primary_key_id", k.primary, "keys", len(k.infos))
	s := &Service{cfg: cfg, log: deps.Log, ring: ring}
	s.keys = keysServer{s: s}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if deps.Store != nil {
		ps, err := newProjectSecrets(s, deps)
		if err != nil {
			return nil, err
		}
		s.projects = ps
		s.rest = ps.handler()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.reencryptLoop(s.ctx)
		}()
	}
	return s, nil
}

// Close stops the re-encryption job and waits for it.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// ensureKeyset creates the keyset file in dev mode when it is missing;
// outside dev mode a missing keyset is an error.
func ensureKeyset(ctx context.Context, f *FileKeySource, dev bool, log *slog.Logger) error {
	_, err := f.Load(ctx)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, ErrNoKeyset):
		return fmt.Errorf("secrets: %w", err)
	case !dev:
		return fmt.Errorf("secrets: keyset file %s does not exist: create it with `edgeway keys init`", f.Path)
	}
	id, err := initKeyset(ctx, f)
	if err != nil && !errors.Is(err, errKeysetExists) {
		return fmt.Errorf("secrets: generate dev keyset: %w", err)
	}
	if err == nil {
		log.Warn("dev mode: generated a new keyset", "keyset_file", f.Path, "primary_key_id", id)
	}
	return nil
}

// Name implements svc.Service.
func (s *Service) Name() string { return Name }

// REST implements svc.Service: the project secrets' routes, nil without
// Deps.Store.
func (s *Service) REST() http.Handler { return s.rest }

// RegisterGRPC implements svc.Service.
func (s *Service) RegisterGRPC(g *grpc.Server) {
	secretsv1.RegisterSecretsServer(g, s)
	secretsv1.RegisterKeysServer(g, &s.keys)
	secretsv1.RegisterProjectSecretsServer(g, &projectServer{s: s})
}

// sealers may seal values, and rewrap the values they own.
var sealers = []string{"orchestrator", "clusterregistry", "deployer"}

// Policy implements svc.Service: the orchestrator, the registry and the
// deployer seal and rewrap; only the deployer unseals. The orchestrator
// lists project secrets (names only); only the deployer fetches their
// sealed values.
func (s *Service) Policy() grpcx.Policy {
	return grpcx.Policy{
		secretsv1.Secrets_Seal_FullMethodName:                      sealers,
		secretsv1.Secrets_Unseal_FullMethodName:                    {"deployer"},
		secretsv1.Keys_KeyStatus_FullMethodName:                    sealers,
		secretsv1.Keys_Rewrap_FullMethodName:                       sealers,
		secretsv1.ProjectSecrets_ListProjectSecrets_FullMethodName: {"orchestrator"},
		secretsv1.ProjectSecrets_GetProjectSecret_FullMethodName:   {"deployer"},
	}
}

// Ready implements svc.Service: the keys are loaded once New returns; the
// project secrets' store must answer.
func (s *Service) Ready(ctx context.Context) error {
	if s.projects != nil {
		return s.projects.store.Ping(ctx)
	}
	return nil
}

// Primary returns the id of the key new values are sealed with.
func (s *Service) Primary() uint32 { return s.ring.get(context.Background()).primary }

// KeyID returns the id of the key that sealed ciphertext, from tink's
// output prefix; ok is false when the value carries none.
func KeyID(ciphertext []byte) (id uint32, ok bool) { return reencrypt.KeyID(ciphertext) }

// Refusals of an unseal. Callers see one message; the reason is logged.
var (
	errNoAssociatedData = errors.New("associated data is required")
	errLegacy           = errors.New("legacy plain0 value (unencrypted placeholder): refused")
	errNoKeyID          = errors.New("not a sealed value (no key id prefix)")
	errDecrypt          = errors.New("decryption failed (damaged, or sealed for other associated data)")
)

// legacyFormat tagged the unencrypted values of the placeholder service.
const legacyFormat = "plain0\x00"

// unsealRefused is all a caller learns about a refused unseal.
var unsealRefused = status.Error(codes.InvalidArgument, "value cannot be unsealed for this associated data")

// Seal implements secretsv1.SecretsServer: AES-256-GCM with a random
// nonce under the primary key, bound to the associated data, the key id in
// the prefix.
func (s *Service) Seal(ctx context.Context, req *secretsv1.SealRequest) (*secretsv1.SealResponse, error) {
	ct, err := s.seal(ctx, req.GetPlaintext(), req.GetAssociatedData())
	if err != nil {
		return nil, err
	}
	return &secretsv1.SealResponse{Ciphertext: ct}, nil
}

// seal encrypts plain for aad under the primary key; errors are status
// errors for the caller.
func (s *Service) seal(ctx context.Context, plain []byte, aad string) ([]byte, error) {
	if aad == "" {
		return nil, status.Error(codes.InvalidArgument, errNoAssociatedData.Error())
	}
	k := s.ring.get(ctx)
	ct, err := k.aead.Encrypt(plain, []byte(aad))
	if err != nil {
		s.log.ErrorContext(ctx, "seal failed", "associated_data", aad, "key_id", k.primary, "request_id", reqid.From(ctx), "error", err)
		return nil, status.Error(codes.Internal, "value cannot be sealed")
	}
	return ct, nil
}

// Unseal implements secretsv1.SecretsServer. A value that does not
// decrypt for the associated data (damaged, moved to another record,
// sealed with a key no longer held, or a legacy placeholder) is an error:
// the stored bytes are never returned.
func (s *Service) Unseal(ctx context.Context, req *secretsv1.UnsealRequest) (*secretsv1.UnsealResponse, error) {
	plain, _, _, err := s.open(ctx, "unseal", req.GetCiphertext(), req.GetAssociatedData())
	if err != nil {
		return nil, err
	}
	return &secretsv1.UnsealResponse{Plaintext: plain}, nil
}

// open decrypts ciphertext for aad and returns the plaintext, the id of
// the key that sealed it and the keys used. Failures are logged (never
// with the value) and returned as the caller's status error.
func (s *Service) open(ctx context.Context, op string, ciphertext []byte, aad string) ([]byte, uint32, *keys, error) {
	id, ok := KeyID(ciphertext)
	k := s.ring.get(ctx)
	var err error
	switch {
	case aad == "":
		err = errNoAssociatedData
	case bytes.HasPrefix(ciphertext, []byte(legacyFormat)):
		err = errLegacy
	case !ok:
		err = errNoKeyID
	case !k.ids[id]:
		// A sibling instance may have picked up a rotation first.
		if k = s.ring.refresh(ctx); !k.ids[id] {
			err = errUnknownKey
		}
	}
	var plain []byte
	if err == nil {
		if plain, err = k.aead.Decrypt(ciphertext, []byte(aad)); err != nil {
			err = fmt.Errorf("%w: %w", errDecrypt, err)
		}
	}
	if err != nil {
		caller, _ := grpcx.Caller(ctx)
		s.log.WarnContext(ctx, "unseal refused", "op", op, "reason", err.Error(), "associated_data", aad,
			"key_id", id, "size", len(ciphertext), "caller", caller, "request_id", reqid.From(ctx))
		if errors.Is(err, errNoAssociatedData) {
			return nil, 0, nil, status.Error(codes.InvalidArgument, errNoAssociatedData.Error())
		}
		return nil, 0, nil, unsealRefused
	}
	return plain, id, k, nil
}

// keysServer serves secretsv1.KeysServer for the service.
type keysServer struct {
	secretsv1.UnimplementedKeysServer
	s *Service
}

// KeyStatus implements secretsv1.KeysServer.
func (ks *keysServer) KeyStatus(ctx context.Context, _ *secretsv1.KeyStatusRequest) (*secretsv1.KeyStatusResponse, error) {
	k := ks.s.ring.get(ctx)
	resp := &secretsv1.KeyStatusResponse{PrimaryKeyId: k.primary}
	for _, i := range k.infos {
		resp.Keys = append(resp.Keys, &secretsv1.KeyInfo{KeyId: i.ID, Primary: i.Primary, Status: i.Status})
	}
	return resp, nil
}

// Rewrap implements secretsv1.KeysServer: unseal with any key, seal again
// with the primary one; a value already on the primary key comes back
// unchanged.
func (ks *keysServer) Rewrap(ctx context.Context, req *secretsv1.RewrapRequest) (*secretsv1.RewrapResponse, error) {
	plain, id, k, err := ks.s.open(ctx, "rewrap", req.GetCiphertext(), req.GetAssociatedData())
	if err != nil {
		return nil, err
	}
	if id == k.primary {
		return &secretsv1.RewrapResponse{Ciphertext: req.GetCiphertext(), KeyId: id}, nil
	}
	ct, err := k.aead.Encrypt(plain, []byte(req.GetAssociatedData()))
	if err != nil {
		ks.s.log.ErrorContext(ctx, "rewrap failed", "associated_data", req.GetAssociatedData(), "key_id", k.primary, "request_id", reqid.From(ctx), "error", err)
		return nil, status.Error(codes.Internal, "value cannot be sealed")
	}
	return &secretsv1.RewrapResponse{Ciphertext: ct, KeyId: k.primary, Rewrapped: true}, nil
}

// newHandle returns a keyset with one new AES-256-GCM key.
func newHandle() (*keyset.Handle, error) { return keyset.NewHandle(aead.AES256GCMKeyTemplate()) }
