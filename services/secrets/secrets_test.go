package secrets

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
)

func TestSealBindsAssociatedData(t *testing.T) {
	s, err := New(Config{}, Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ctx := context.Background()
	sealed, err := s.Seal(ctx, &secretsv1.SealRequest{Plaintext: []byte("kubeconfig"), AssociatedData: "clusterregistry/a#kubeconfig"})
	require.NoError(t, err)
	out, err := s.Unseal(ctx, &secretsv1.UnsealRequest{Ciphertext: sealed.GetCiphertext(), AssociatedData: "clusterregistry/a#kubeconfig"})
	require.NoError(t, err)
	require.Equal(t, "kubeconfig", string(out.GetPlaintext()))

	_, err = s.Unseal(ctx, &secretsv1.UnsealRequest{Ciphertext: sealed.GetCiphertext(), AssociatedData: "clusterregistry/b#kubeconfig"})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "a value moved to another record must not unseal")
	_, err = s.Seal(ctx, &secretsv1.SealRequest{Plaintext: []byte("x")})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "associated data is required")
}
