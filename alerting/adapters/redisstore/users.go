package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

// Users, API tokens and sessions. Secrets are stored only as hashes: a
// user's bcrypt password hash, a token's and a session's SHA-256.
func (s *Store) userKey(name string) string    { return s.prefix + "user:" + name }
func (s *Store) usersKey() string              { return s.prefix + "users" }
func (s *Store) tokenKey(id string) string     { return s.prefix + "token:" + id }
func (s *Store) userTokensKey(u string) string { return s.prefix + "user:" + u + ":tokens" }
func (s *Store) sessionKey(hash string) string { return s.prefix + "session:" + hash }

// User returns a user; an *Error with ENOTFOUND when absent.
func (s *Store) User(ctx context.Context, name string) (*alerting.User, error) {
	text, err := s.fencedGet(ctx, s.userKey(name))
	if errors.Is(err, redis.Nil) {
		return nil, alerting.Errorf(alerting.ENOTFOUND, "no user %q", name)
	}
	if err != nil {
		return nil, err
	}
	var u alerting.User
	if err := json.Unmarshal([]byte(text), &u); err != nil {
		return nil, fmt.Errorf("decode user %s: %w", name, err)
	}
	return &u, nil
}

// Users lists every user, by name.
func (s *Store) Users(ctx context.Context) ([]*alerting.User, error) {
	names, err := s.rdb.SMembers(ctx, s.usersKey()).Result()
	if err != nil {
		return nil, unavailable("list users", err)
	}
	sort.Strings(names)
	out := make([]*alerting.User, 0, len(names))
	for _, n := range names {
		u, err := s.User(ctx, n)
		if alerting.ErrorCode(err) == alerting.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// PutUser writes a user; with create, only if no user has the name.
func (s *Store) PutUser(ctx context.Context, u *alerting.User, create bool) error {
	data, err := json.Marshal(u)
	if err != nil {
		return err
	}
	if create {
		ok, err := s.rdb.SetNX(ctx, s.userKey(u.Name), data, 0).Result()
		if err != nil {
			return unavailable("create user", err)
		}
		if !ok {
			return alerting.Errorf(alerting.ECONFLICT, "user %q exists already", u.Name)
		}
		return s.wrap("create user", s.rdb.SAdd(ctx, s.usersKey(), u.Name).Err())
	}
	n, err := s.rdb.Exists(ctx, s.userKey(u.Name)).Result()
	if err != nil {
		return unavailable("update user", err)
	}
	if n == 0 {
		return alerting.Errorf(alerting.ENOTFOUND, "no user %q", u.Name)
	}
	return s.wrap("update user", s.rdb.Set(ctx, s.userKey(u.Name), data, 0).Err())
}

// DeleteUser removes a user and revokes its tokens.
func (s *Store) DeleteUser(ctx context.Context, name string, now time.Time) error {
	tokens, err := s.UserTokens(ctx, name)
	if err != nil {
		return err
	}
	for _, t := range tokens {
		if t.RevokedAt == nil {
			if err := s.RevokeToken(ctx, t.ID, now); err != nil {
				return err
			}
		}
	}
	n, err := s.rdb.Del(ctx, s.userKey(name)).Result()
	if err != nil {
		return unavailable("delete user", err)
	}
	if n == 0 {
		return alerting.Errorf(alerting.ENOTFOUND, "no user %q", name)
	}
	return s.wrap("delete user", s.rdb.SRem(ctx, s.usersKey(), name).Err())
}

// CountAdmins says how many enabled admins exist.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	users, err := s.Users(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range users {
		if u.Role == alerting.RoleAdmin && !u.Disabled {
			n++
		}
	}
	return n, nil
}

// PutToken stores a token record.
func (s *Store) PutToken(ctx context.Context, t *alerting.Token) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.tokenKey(t.ID), data, 0)
		p.SAdd(ctx, s.userTokensKey(t.User), t.ID)
		return nil
	})
	return s.wrap("store token", err)
}

// Token returns a token record; ENOTFOUND when absent.
func (s *Store) Token(ctx context.Context, id string) (*alerting.Token, error) {
	text, err := s.fencedGet(ctx, s.tokenKey(id))
	if errors.Is(err, redis.Nil) {
		return nil, alerting.Errorf(alerting.ENOTFOUND, "no token %q", id)
	}
	if err != nil {
		return nil, err
	}
	var t alerting.Token
	if err := json.Unmarshal([]byte(text), &t); err != nil {
		return nil, fmt.Errorf("decode token %s: %w", id, err)
	}
	return &t, nil
}

// UserTokens lists a user's tokens, oldest first.
func (s *Store) UserTokens(ctx context.Context, user string) ([]*alerting.Token, error) {
	ids, err := s.rdb.SMembers(ctx, s.userTokensKey(user)).Result()
	if err != nil {
		return nil, unavailable("list tokens", err)
	}
	out := make([]*alerting.Token, 0, len(ids))
	for _, id := range ids {
		t, err := s.Token(ctx, id)
		if alerting.ErrorCode(err) == alerting.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// RevokeToken marks a token revoked at now.
func (s *Store) RevokeToken(ctx context.Context, id string, now time.Time) error {
	t, err := s.Token(ctx, id)
	if err != nil {
		return err
	}
	if t.RevokedAt == nil {
		t.RevokedAt = &now
	}
	return s.PutToken(ctx, t)
}

// PutSession stores a session under the hash of its id until it expires.
func (s *Store) PutSession(ctx context.Context, hash string, sess *alerting.Session) error {
	data, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	ttl := time.Until(sess.ExpiresAt)
	if ttl <= 0 {
		return nil
	}
	return s.wrap("store session", s.rdb.Set(ctx, s.sessionKey(hash), data, ttl).Err())
}

// Session returns the session with the hashed id, or nil when there is
// none (expired, signed out, never made).
func (s *Store) Session(ctx context.Context, hash string) (*alerting.Session, error) {
	text, err := s.fencedGet(ctx, s.sessionKey(hash))
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sess alerting.Session
	if err := json.Unmarshal([]byte(text), &sess); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	return &sess, nil
}

// DeleteSession signs a session out.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	return s.wrap("delete session", s.rdb.Del(ctx, s.sessionKey(hash)).Err())
}

func (s *Store) wrap(op string, err error) error {
	if err != nil {
		return unavailable(op, err)
	}
	return nil
}
