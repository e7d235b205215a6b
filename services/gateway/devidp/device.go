package devidp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

type deviceEntry struct {
	userCode string
	state    op.DeviceAuthorizationState
	failures int
}

func copyDeviceState(st *op.DeviceAuthorizationState) *op.DeviceAuthorizationState {
	c := *st
	c.Audience = slices.Clone(st.Audience)
	c.Scopes = slices.Clone(st.Scopes)
	c.AMR = slices.Clone(st.AMR)
	return &c
}

// StoreDeviceAuthorization stores a new device authorization request.
func (s *storage) StoreDeviceAuthorization(ctx context.Context, clientID, deviceCode, userCode string, expires time.Time, scopes []string) error {
	client, err := s.GetClientByClientID(ctx, clientID)
	if err != nil {
		return err
	}
	scopes = slices.Clone(scopes)
	if op.ValidateGrantType(client, oidc.GrantTypeRefreshToken) {
		scopes = withOfflineAccess(scopes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.userCodes[userCode]; ok {
		return op.ErrDuplicateUserCode
	}
	s.sweepLocked(time.Now())
	if len(s.devices) >= maxPending {
		return errTooMany
	}
	s.devices[deviceCode] = &deviceEntry{
		userCode: userCode,
		state: op.DeviceAuthorizationState{
			ClientID: clientID,
			Audience: []string{PublicClientID},
			Scopes:   scopes,
			Expires:  expires,
		},
	}
	s.userCodes[userCode] = deviceCode
	return nil
}

// GetDeviceAuthorizatonState answers a device's poll. Once approved or
// denied the device code is consumed: it yields one token response.
func (s *storage) GetDeviceAuthorizatonState(ctx context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.devices[deviceCode]
	if !ok || e.state.ClientID != clientID {
		return nil, fmt.Errorf("device code: %w", errNotFound)
	}
	st := copyDeviceState(&e.state)
	if time.Now().After(st.Expires) {
		st.Done, st.Denied = false, false
		return st, nil
	}
	if st.Done || st.Denied {
		delete(s.devices, deviceCode)
		delete(s.userCodes, e.userCode)
	}
	return st, nil
}

// pendingDevice returns the pending device request of a user code.
func (s *storage) pendingDevice(userCode string) (*op.DeviceAuthorizationState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.devices[s.userCodes[userCode]]
	if !ok || e.state.Done || e.state.Denied || time.Now().After(e.state.Expires) {
		return nil, errNotFound
	}
	return copyDeviceState(&e.state), nil
}

// decideDevice checks the user's password and approves or denies the
// device request of userCode. Too many wrong passwords deny it.
func (s *storage) decideDevice(userCode, username, password string, approve bool) error {
	if _, err := s.pendingDevice(userCode); err != nil {
		return err
	}
	userID, err := s.checkUser(username, password)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.devices[s.userCodes[userCode]]
	if !ok || e.state.Done || e.state.Denied || time.Now().After(e.state.Expires) {
		return errNotFound
	}
	if errors.Is(err, errBadCredentials) {
		e.failures++
		if e.failures >= maxLoginFailures {
			e.state.Denied = true
		}
	}
	if err != nil {
		return err
	}
	if !approve {
		e.state.Denied = true
		return nil
	}
	e.state.Subject, e.state.Done = userID, true
	e.state.AMR, e.state.AuthTime = []string{"pwd"}, time.Now()
	return nil
}
