package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// answer is a response's status and headers, its body read and closed.
type answer struct {
	StatusCode int
	Status     string
	Header     http.Header
}

// get asks path of the stack.
func (c *checker) get(ctx context.Context, path string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return answer{}, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return answer{resp.StatusCode, resp.Status, resp.Header}, err
}

// waitThen retries check while the stack does not answer at all (it may still be starting).
func (c *checker) waitThen(ctx context.Context, check func() error) error {
	var last lastAnswer
	for {
		err := check()
		var netErr net.Error
		if err == nil || !errors.As(err, &netErr) {
			return err
		}
		last.keep(ctx, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer in time: %w", last.err)
		case <-time.After(time.Second):
		}
	}
}

// refused checks that path is answered with one of the codes, never served.
func (c *checker) refused(ctx context.Context, path string, codes ...int) error {
	resp, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	for _, code := range codes {
		if resp.StatusCode == code {
			return nil
		}
	}
	return fmt.Errorf("%s answers %s; it must not be served (want %v)", path, resp.Status, codes)
}

// securityHeaders are what the app's Nginx sends with every answer (docker/php/Dockerfile).
var securityHeaders = map[string]string{
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "strict-origin-when-cross-origin",
	"X-Frame-Options":        "SAMEORIGIN",
}

func (c *checker) checkHeaders(ctx context.Context) error {
	resp, err := c.get(ctx, "/")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/ answers %s", resp.Status)
	}
	var missing []string
	for name, want := range securityHeaders {
		if got := resp.Header.Get(name); got != want {
			missing = append(missing, fmt.Sprintf("%s: %q (want %q)", name, got, want))
		}
	}
	if strings.HasPrefix(c.base, "https://") && !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		missing = append(missing, "Strict-Transport-Security: none over HTTPS")
	}
	if len(missing) > 0 {
		return fmt.Errorf("/ lacks security headers: %s", strings.Join(missing, "; "))
	}
	return nil
}

// checkHTTPS checks that plain HTTP only redirects to HTTPS, and that TLS below the minimum is
// refused.
func (c *checker) checkHTTPS(ctx context.Context) error {
	u, err := url.Parse(c.base)
	if err != nil {
		return err
	}
	plain := *u
	plain.Scheme = "http"
	plain.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(c.httpPort))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, plain.String()+"/", nil)
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("HTTP: %w", err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode < 300 || resp.StatusCode > 308 || !strings.HasPrefix(loc, "https://") {
		return fmt.Errorf("HTTP answers %s (Location %q); it must redirect to HTTPS", resp.Status, loc)
	}
	old := map[uint16][]uint16{tls.VersionTLS12: {tls.VersionTLS11}, tls.VersionTLS13: {tls.VersionTLS11, tls.VersionTLS12}}[c.minTLS]
	for _, v := range old {
		if accepted(u, v, c) {
			return fmt.Errorf("TLS %s is accepted; the stack promises at least TLS %s", tlsName(v), tlsName(c.minTLS))
		}
	}
	if !accepted(u, c.minTLS, c) {
		return fmt.Errorf("TLS %s is refused", tlsName(c.minTLS))
	}
	return nil
}

func tlsName(v uint16) string {
	return map[uint16]string{tls.VersionTLS11: "1.1", tls.VersionTLS12: "1.2", tls.VersionTLS13: "1.3"}[v]
}

// accepted reports whether u's host completes a TLS handshake at exactly version v.
func accepted(u *url.URL, v uint16, c *checker) bool {
	port := u.Port()
	if port == "" {
		port = "443"
	}
	name := u.Hostname()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", net.JoinHostPort(name, port), &tls.Config{
		MinVersion: v, MaxVersion: v, ServerName: name, RootCAs: c.tlsRoots,
	})
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// checkMercure subscribes to a new topic with a subscriber JWT, publishes a private update
// to it with a publisher JWT, and waits -mercure-wait (5 s) for the update to arrive, all
// through the stack's own origin.
func (c *checker) checkMercure(ctx context.Context) error {
	if c.publisherKey == "" || c.subscriberKey == "" {
		return errors.New("MERCURE_PUBLISHER_JWT_KEY and MERCURE_SUBSCRIBER_JWT_KEY are not set (or run with -mercure=false)")
	}
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	topic, data := "urn:sudoku:smoke:"+hex.EncodeToString(nonce), "smoke-"+hex.EncodeToString(nonce)
	hub := c.base + "/.well-known/mercure"

	subCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(subCtx, http.MethodGet, hub+"?topic="+url.QueryEscape(topic), nil)
	req.Header.Set("Authorization", "Bearer "+jwt(c.subscriberKey, `{"mercure":{"subscribe":["*"]}}`))
	stream := &http.Client{Transport: c.client.Transport, CheckRedirect: c.client.CheckRedirect} // no timeout: a stream
	resp, err := stream.Do(req)                                                                  //nolint:bodyclose // closed below, after the reader goroutine is done with it
	if err != nil {
		return fmt.Errorf("subscribing: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("subscribing with the subscriber JWT: %s", resp.Status)
	}
	got := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(resp.Body)
		for s.Scan() {
			if s.Text() == "data: "+data {
				got <- true
				return
			}
		}
	}()
	form := url.Values{"topic": {topic}, "data": {data}, "private": {"on"}}
	pub, _ := http.NewRequestWithContext(ctx, http.MethodPost, hub, strings.NewReader(form.Encode()))
	pub.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	pub.Header.Set("Authorization", "Bearer "+jwt(c.publisherKey, `{"mercure":{"publish":["*"]}}`))
	presp, err := c.client.Do(pub)
	if err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	presp.Body.Close()
	if presp.StatusCode != http.StatusOK {
		return fmt.Errorf("publishing with the publisher JWT: %s", presp.Status)
	}
	select {
	case <-got:
		return nil
	case <-time.After(c.mercureWait):
		return fmt.Errorf("the subscriber did not receive the update within %s", c.mercureWait)
	}
}

// jwt is an HS256 JSON Web Token with claims, signed with key.
func jwt(key, claims string) string {
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}
