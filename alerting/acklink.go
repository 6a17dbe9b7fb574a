package alerting

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AckLinks signs and checks the acknowledge links notifications carry: a
// link acknowledges one alert, on behalf of one contact's party, until it
// expires. The token is a JWT (HS256) whose claims name the alert, the
// contact, the party and the notification's key.
type AckLinks struct {
	secret []byte
	ttl    time.Duration
}

// ackAudience keeps tokens signed for other purposes from passing as ack
// links.
const ackAudience = "truceline-ack"

// DefaultAckLinkTTL is how long an acknowledge link works.
const DefaultAckLinkTTL = 24 * time.Hour

// NewAckLinks returns a signer with a secret of at least 32 bytes; ttl 0
// means DefaultAckLinkTTL.
func NewAckLinks(secret []byte, ttl time.Duration) (*AckLinks, error) {
	if len(secret) < 32 {
		return nil, errors.New("alerting: an ack link secret needs at least 32 bytes")
	}
	if ttl <= 0 {
		ttl = DefaultAckLinkTTL
	}
	return &AckLinks{secret: secret, ttl: ttl}, nil
}

// AckClaims is what an acknowledge link says.
type AckClaims struct {
	Alert   string `json:"alert"`
	Contact string `json:"contact"`
	Name    string `json:"name"`
	Party   string `json:"party,omitempty"`
	Key     string `json:"key"`
	jwt.RegisteredClaims
}

// Actor is who acknowledges by the link.
func (c *AckClaims) Actor() Actor {
	return Actor{Name: c.Name + " (notification link)", Party: c.Party}
}

// Sign returns a token for the message's alert and contact, and when it
// expires.
func (l *AckLinks) Sign(m *Message, now time.Time) (token string, expires time.Time, err error) {
	expires = now.Add(l.ttl).Truncate(time.Second)
	claims := AckClaims{Alert: m.Alert.ID, Contact: m.Contact.ID, Name: m.Contact.Name, Party: m.Contact.Party, Key: m.Key,
		RegisteredClaims: jwt.RegisteredClaims{Audience: jwt.ClaimStrings{ackAudience}, Subject: m.Contact.ID,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(expires)}}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(l.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign ack link: %w", err)
	}
	return token, expires, nil
}

// Check verifies a token for alert at now: it must be signed by this
// server, unexpired, and made for that alert. The error is an *Error with
// EFORBIDDEN that says which of these failed.
func (l *AckLinks) Check(token, alert string, now time.Time) (*AckClaims, error) {
	var c AckClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return l.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithAudience(ackAudience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, Errorf(EFORBIDDEN, "this acknowledge link expired; acknowledge on the board instead")
	case err != nil:
		return nil, Errorf(EFORBIDDEN, "this acknowledge link is not valid (altered or not made by this server)")
	case c.Alert != alert:
		return nil, Errorf(EFORBIDDEN, "this acknowledge link is for another alert")
	}
	return &c, nil
}
