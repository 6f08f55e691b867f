// Command smoke checks a running stack from the outside, as a user would, and fails with a
// clear message at the first broken promise. `make up` ends with it, and the end-to-end
// workflows run it against the stacks they bring up.
//
//	MERCURE_PUBLISHER_JWT_KEY=... MERCURE_SUBSCRIBER_JWT_KEY=... \
//	go run ./cmd/smoke [-timeout 60s] [-status public|hidden] [-min-tls 1.2|1.3] [-http-port 80] [-ca FILE] URL
//
// or, for a local stack, with its outputs instead of the URL and the keys (make up):
//
//	pulumi stack output --json --show-secrets | go run ./cmd/smoke -outputs -
//
// In order:
//   - status: with -status public (the default, as locally), URL/status.php?strict=1 answers
//     200, or names MySQL or Redis and why; with -status hidden (AWS), /status.php is a 404
//     from outside. A proxy that does not answer yet is asked again until the timeout.
//   - headers: / answers with the security headers the app's Nginx promises, and HSTS over
//     HTTPS.
//   - refused paths: a dotfile (/.env) is never served.
//   - HTTPS (for an https:// URL): plain HTTP (on -http-port, 80) redirects to HTTPS, TLS
//     below -min-tls (1.2) is refused.
//   - Mercure: through the same origin, a subscriber with a subscriber JWT receives, within
//     5 seconds, a private update published with a publisher JWT. The keys come from the
//     environment (the stack's secret outputs, or its Secrets Manager secret) and are never
//     printed; without them the round trip fails, unless -mercure=false.
//
// Exit status: 0 when the stack keeps every promise, 1 when it breaks one, 2 for a usage
// error.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// checker is one smoke run against a stack.
type checker struct {
	base          string
	client        *http.Client
	tlsRoots      *x509.CertPool
	statusPublic  bool
	minTLS        uint16
	httpPort      int
	mercure       bool
	mercureWait   time.Duration
	publisherKey  string
	subscriberKey string
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("smoke", flag.ContinueOnError)
	flags.SetOutput(stderr)
	timeout := flags.Duration("timeout", 60*time.Second, "how long to wait for the stack to answer")
	status := flags.String("status", "public", "public: check /status.php?strict=1; hidden: check that /status.php is a 404 from outside")
	minTLS := flags.String("min-tls", "1.2", "for an https URL: the lowest TLS version the stack must accept (1.2 or 1.3); older ones must be refused")
	caFile := flags.String("ca", "", "a PEM file of certificate authorities to trust instead of the system's")
	httpPort := flags.Int("http-port", 80, "for an https URL: the port that serves plain HTTP (and must redirect)")
	mercure := flags.Bool("mercure", true, "check a Mercure round trip (needs MERCURE_PUBLISHER_JWT_KEY and MERCURE_SUBSCRIBER_JWT_KEY)")
	mercureWait := flags.Duration("mercure-wait", 5*time.Second, "how long the subscriber waits for the published update")
	outputsFile := flags.String("outputs", "", "a local stack's `pulumi stack output --json --show-secrets` (- for stdin): its url and hub keys, instead of URL and the environment")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: smoke [-timeout 60s] [-status public|hidden] [-min-tls 1.2|1.3] [-http-port 80] [-ca FILE] [-mercure=false] URL | -outputs FILE")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	url, publisher, subscriber := flags.Arg(0), os.Getenv("MERCURE_PUBLISHER_JWT_KEY"), os.Getenv("MERCURE_SUBSCRIBER_JWT_KEY")
	if *outputsFile != "" {
		if flags.NArg() != 0 {
			flags.Usage()
			return 2
		}
		outputs, err := readOutputs(*outputsFile, os.Stdin)
		if err != nil {
			fmt.Fprintf(stderr, "smoke: -outputs: %v\n", err)
			return 2
		}
		url, publisher, subscriber = outputs.URL, outputs.PublisherKey, outputs.SubscriberKey
	} else if flags.NArg() != 1 {
		flags.Usage()
		return 2
	}
	versions := map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}
	if !strings.HasPrefix(url, "http") || (*status != "public" && *status != "hidden") || versions[*minTLS] == 0 {
		flags.Usage()
		return 2
	}
	c := &checker{
		base: strings.TrimSuffix(url, "/"), statusPublic: *status == "public", minTLS: versions[*minTLS], httpPort: *httpPort, mercure: *mercure,
		mercureWait: *mercureWait, publisherKey: publisher, subscriberKey: subscriber,
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintf(stderr, "smoke: %v\n", err)
			return 2
		}
		c.tlsRoots = x509.NewCertPool()
		if !c.tlsRoots.AppendCertsFromPEM(pem) {
			fmt.Fprintf(stderr, "smoke: %s holds no PEM certificate\n", *caFile)
			return 2
		}
	}
	c.client = &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.tlsRoots, MinVersion: tls.VersionTLS12}},
		// Redirects are a promise of their own (HTTP to HTTPS): the checks look at them.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	for _, check := range c.checks() {
		if err := check.run(ctx); err != nil {
			fmt.Fprintf(stderr, "smoke: %s: %s: %v\n", c.base, check.name, err)
			return 1
		}
		fmt.Fprintf(stdout, "smoke: %s: %s\n", check.name, check.ok)
	}
	fmt.Fprintf(stdout, "smoke: %s keeps its promises.\n", c.base)
	return 0
}

// stackOutputs is what smoke reads of a local stack's outputs (local.go).
type stackOutputs struct {
	URL           string `json:"url"`
	PublisherKey  string `json:"mercurePublisherJwtKey"`
	SubscriberKey string `json:"mercureSubscriberJwtKey"`
}

// readOutputs reads `pulumi stack output --json --show-secrets` from file ("-": stdin).
func readOutputs(file string, stdin io.Reader) (stackOutputs, error) {
	var o stackOutputs
	in := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return o, err
		}
		defer f.Close()
		in = f
	}
	if err := json.NewDecoder(in).Decode(&o); err != nil {
		return o, fmt.Errorf("not the JSON of pulumi stack output --json: %w", err)
	}
	if o.URL == "" {
		return o, errors.New("the outputs have no url")
	}
	return o, nil
}

type check struct {
	name, ok string
	run      func(context.Context) error
}

func (c *checker) checks() []check {
	list := []check{}
	if c.statusPublic {
		list = append(list, check{"status", "the app reaches MySQL and Redis", func(ctx context.Context) error { return c.checkStatus(ctx) }})
	} else {
		list = append(list, check{"status", "/status.php is not served to the internet", func(ctx context.Context) error {
			return c.waitThen(ctx, func() error { return c.refused(ctx, "/status.php", http.StatusNotFound) })
		}})
	}
	list = append(list,
		check{"headers", "the security headers are sent", c.checkHeaders},
		check{"refused paths", "dotfiles are not served", func(ctx context.Context) error {
			return c.refused(ctx, "/.env", http.StatusForbidden, http.StatusNotFound)
		}},
	)
	if strings.HasPrefix(c.base, "https://") {
		list = append(list, check{"https", "HTTP redirects to HTTPS; older TLS is refused", c.checkHTTPS})
	}
	if c.mercure {
		list = append(list, check{"mercure", "a private update reached its subscriber through the hub", c.checkMercure})
	}
	return list
}

// status is the part of status.php's report that smoke reads.
type status struct {
	Status   string     `json:"status"`
	Database dependency `json:"database"`
	Redis    dependency `json:"redis"`
}

type dependency struct {
	OK     bool   `json:"ok"`
	Reason string `json:"reason"`
}

// errNotYet is an answer that may change once the stack has settled.
var errNotYet = errors.New("not ready")

// checkStatus asks status.php?strict=1 until it reports, or ctx ends.
func (c *checker) checkStatus(ctx context.Context) error {
	url := c.base + "/status.php?strict=1"
	var last lastAnswer
	for {
		err := c.askStatus(ctx, url)
		if !errors.Is(err, errNotYet) {
			return err
		}
		last.keep(ctx, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer from the app in time: %w", last.err)
		case <-time.After(time.Second):
		}
	}
}

// lastAnswer is what the stack last said while a check waited for it. An attempt cut short
// by the check's own deadline says nothing about the stack, so it does not replace an
// earlier answer (a 502 from a proxy whose app never came up, say).
type lastAnswer struct{ err error }

func (l *lastAnswer) keep(ctx context.Context, err error) {
	if l.err == nil || ctx.Err() == nil {
		l.err = err
	}
}

func (c *checker) askStatus(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", errNotYet, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: reading the answer: %w", errNotYet, err)
	}
	var s status
	reported := json.Unmarshal(body, &s) == nil && s.Status != ""
	switch {
	case resp.StatusCode == http.StatusOK && reported && s.Status == "ok":
		return nil
	case reported && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusServiceUnavailable):
		return refusals(s)
	case resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout:
		return fmt.Errorf("%w: %s answers %s", errNotYet, url, resp.Status)
	default:
		return fmt.Errorf("%s answers %s, not the app's status report: %.200s", url, resp.Status, strings.TrimSpace(string(body)))
	}
}

// refusals says which of MySQL and Redis fail the app, and why. status.php gives a short
// reason, not the error itself; the app's log has that.
func refusals(s status) error {
	var msgs []string
	if !s.Database.OK {
		msgs = append(msgs, describe("MySQL", s.Database.Reason)+hint(s.Database.Reason))
	}
	if !s.Redis.OK {
		msgs = append(msgs, describe("Redis", s.Redis.Reason))
	}
	if len(msgs) == 0 {
		msgs = append(msgs, "the app reports status "+s.Status)
	}
	return errors.New(strings.Join(msgs, "; "))
}

// describe says what a failed check's reason means for the app.
func describe(service, reason string) string {
	var what string
	switch reason {
	case "access-denied":
		what = service + " refuses the app's credentials"
	case "unreachable":
		what = "the app cannot reach " + service
	case "timeout":
		what = service + " does not answer the app in time"
	case "tls":
		what = "the app's TLS connection to " + service + " fails"
	case "unknown-database":
		what = service + " has no database for the app"
	case "not-configured":
		what = "the app has no " + service + " URL"
	case "not-migrated":
		what = service + " lacks the schema the app's code expects (the release step has not applied its migrations)"
	default:
		what = service + " fails the app's check"
	}
	return fmt.Sprintf("%s (%s; the app's log says more)", what, reason)
}

// hint explains MySQL's "access denied" on a local stack: the data volume keeps the
// credentials it was created with.
func hint(reason string) string {
	if reason != "access-denied" {
		return ""
	}
	return " (on a local stack, the data volume keeps the password it was created with: if the stack's credentials were lost, by a plain `pulumi destroy` for instance, `make destroy` deletes the data and the next `make up` starts afresh; see docs/local-development.md)"
}
