package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
	"github.com/truceline/truceline/broker"
)

// Actions are records too: what people configure — the configuration,
// users, API tokens — is written to Redis and then recorded in the
// streams' state bucket (broker.StateBucket) before it is answered, so a
// Redis that went back in time gets it back (restoreState).
//
// Keys of the bucket: "config" (the whole configuration and its version),
// "user.<name>" (a user, or "deleted"), "token.<id>" (a token, revoked ones
// too).

// deletedUser is the record of a deleted user.
const deletedUser = "deleted"

// recordedConfig is the configuration as recorded.
type recordedConfig struct {
	Version int64             `json:"version"`
	Objects []alerting.Object `json:"objects"`
}

// users is the user store the API and sign-in use: Redis, with every
// change recorded.
type users struct {
	*redisstore.Store
	broker *broker.Broker
}

// users is the user store the API uses.
func (a *App) users() users { return users{a.Store, a.Broker} }

// PutUser implements web.UserStore.
func (u users) PutUser(ctx context.Context, user *alerting.User, create bool) error {
	if err := u.Store.PutUser(ctx, user, create); err != nil {
		return err
	}
	return u.recordUser(ctx, user)
}

// DeleteUser implements web.UserStore; the user's tokens, revoked with it,
// are recorded revoked.
func (u users) DeleteUser(ctx context.Context, name string, now time.Time) error {
	if err := u.Store.DeleteUser(ctx, name, now); err != nil {
		return err
	}
	if err := u.broker.RecordState(ctx, "user."+name, []byte(deletedUser)); err != nil {
		return err
	}
	tokens, err := u.Store.UserTokens(ctx, name)
	if err != nil {
		return err
	}
	for _, t := range tokens {
		if err := u.recordToken(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// PutToken implements web.UserStore.
func (u users) PutToken(ctx context.Context, t *alerting.Token) error {
	if err := u.Store.PutToken(ctx, t); err != nil {
		return err
	}
	return u.recordToken(ctx, t)
}

// RevokeToken implements web.UserStore.
func (u users) RevokeToken(ctx context.Context, id string, now time.Time) error {
	if err := u.Store.RevokeToken(ctx, id, now); err != nil {
		return err
	}
	t, err := u.Store.Token(ctx, id)
	if err != nil {
		return err
	}
	return u.recordToken(ctx, t)
}

func (u users) recordUser(ctx context.Context, user *alerting.User) error {
	data, err := json.Marshal(user)
	if err != nil {
		return err
	}
	return u.broker.RecordState(ctx, "user."+user.Name, data)
}

func (u users) recordToken(ctx context.Context, t *alerting.Token) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return u.broker.RecordState(ctx, "token."+t.ID, data)
}

// recordConfig records the configuration as Redis holds it now.
func (a *App) recordConfig(ctx context.Context) error {
	cfg, version, err := a.Store.LoadConfig(ctx)
	if err != nil {
		return err
	}
	objects, err := cfg.Objects()
	if err != nil {
		return err
	}
	data, err := json.Marshal(recordedConfig{Version: version, Objects: objects})
	if err != nil {
		return err
	}
	return a.Broker.RecordState(ctx, "config", data)
}

// restoreState writes back into Redis what the state bucket records and
// Redis lost: a newer configuration, users and tokens as recorded. It
// reports whether it restored anything (Redis went back in time).
func (a *App) restoreState(ctx context.Context) (bool, error) {
	states, err := a.Broker.States(ctx, "")
	if err != nil {
		return false, err
	}
	restored := false
	if data, ok := states["config"]; ok {
		var rc recordedConfig
		if err := json.Unmarshal(data, &rc); err != nil {
			return false, fmt.Errorf("the recorded configuration: %w", err)
		}
		cfg, err := alerting.ConfigOf(rc.Objects)
		if err != nil {
			return false, fmt.Errorf("the recorded configuration: %w", err)
		}
		if restored, err = a.Store.RestoreConfig(ctx, cfg, rc.Version); err != nil {
			return false, err
		}
		if restored {
			a.logger.Warn("Redis had lost configuration changes: restored the configuration from the streams", "version", rc.Version)
			if err := a.catalog.Refresh(ctx); err != nil {
				return false, err
			}
		}
	}
	var us []*alerting.User
	var deleted []string
	var tokens []*alerting.Token
	for key, data := range states {
		switch kind, id, _ := strings.Cut(key, "."); kind {
		case "user":
			if string(data) == deletedUser {
				deleted = append(deleted, id)
				continue
			}
			var u alerting.User
			if err := json.Unmarshal(data, &u); err != nil {
				return false, fmt.Errorf("the recorded user %s: %w", id, err)
			}
			us = append(us, &u)
		case "token":
			var t alerting.Token
			if err := json.Unmarshal(data, &t); err != nil {
				return false, fmt.Errorf("the recorded token %s: %w", id, err)
			}
			tokens = append(tokens, &t)
		}
	}
	changed, err := a.Store.RestoreUsers(ctx, us, deleted, tokens)
	if err != nil {
		return false, err
	}
	if changed {
		a.logger.Warn("Redis had lost changes to users or API tokens: restored them from the streams")
	}
	return restored || changed, nil
}
