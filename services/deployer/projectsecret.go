package deployer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/grpcx"
)

// AnnotationProjectSecret marks a Secret manifest that stands for a
// project secret: its value, projects/<project>/secrets/<name>, names the
// secret whose values the deployer puts in just before it applies the
// Secret. Such a manifest carries no values, and neither does its record
// in etcd.
const AnnotationProjectSecret = "edgeway.dev/project-secret"

// projectSecretAAD is the associated data the secrets service seals a
// project secret's values for (secrets.SecretAAD): the deployer computes it
// from the reference rather than trusting the answer, so values sealed for
// another secret do not open.
func projectSecretAAD(ref string) string { return "secrets/" + ref + "#data" }

// fillProjectSecret sets the data of a Secret that refers to a project
// secret: the sealed values come from the secrets service, are unsealed,
// and go into obj as the Secret's data (base64, so that server-side apply
// owns each key and a key removed from the project secret is removed from
// the cluster). The plaintext lives only in obj, which the caller drops
// after applying it; it is never logged or stored. A Secret without the
// annotation is left as it is.
func (r *ctxRun) fillProjectSecret(ctx context.Context, obj *unstructured.Unstructured) error {
	ref, ok := obj.GetAnnotations()[AnnotationProjectSecret]
	if !ok {
		return nil
	}
	if _, has := obj.Object["data"]; has {
		return permanent(&projectSecretError{ref: ref, err: errors.New("a project secret reference must not carry data")})
	}
	if _, has := obj.Object["stringData"]; has {
		return permanent(&projectSecretError{ref: ref, err: errors.New("a project secret reference must not carry stringData")})
	}
	got, err := r.s.deps.ProjectSecrets.GetProjectSecret(ctx, &secretsv1.GetProjectSecretRequest{Key: ref})
	if err != nil {
		return &projectSecretError{ref: ref, err: grpcx.FromStatus(err)}
	}
	aad := projectSecretAAD(ref)
	if got.GetAssociatedData() != aad {
		return permanent(&projectSecretError{ref: ref, err: errors.New("sealed for other associated data")})
	}
	un, err := r.s.deps.Secrets.Unseal(ctx, &secretsv1.UnsealRequest{Ciphertext: got.GetSealed(), AssociatedData: aad})
	if err != nil {
		return &projectSecretError{ref: ref, err: fmt.Errorf("unseal: %w", grpcx.FromStatus(err))}
	}
	plain := un.GetPlaintext()
	defer clear(plain)
	var values map[string]string
	if err := json.Unmarshal(plain, &values); err != nil {
		return permanent(&projectSecretError{ref: ref, err: errors.New("values cannot be decoded")})
	}
	data := make(map[string]any, len(values))
	for k, v := range values {
		data[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	obj.Object["data"] = data
	return nil
}

// projectSecretError is a failure to fill a project secret in. Its message
// names the secret and the reason and never holds a value, so the status
// of the Secret may show it (errorText).
type projectSecretError struct {
	ref string
	err error
}

func (e *projectSecretError) Error() string { return "project secret " + e.ref + ": " + e.err.Error() }
func (e *projectSecretError) Unwrap() error { return e.err }
