// Command smoke checks a running stack from the outside, as a user would, and fails with a
// clear message at the first broken promise. `make up` ends with it.
//
//	go run ./cmd/smoke [-timeout 60s] URL
//
// It asks URL/status.php?strict=1 through the stack's entry point (the local proxy, or the
// load balancer): the app answers 200 when it reaches MySQL and Redis with its credentials,
// and 503, with what failed, when either refuses it. A proxy that does not answer yet (a
// refused connection, 502, 503 without the app's report, 504) is asked again until the
// timeout; a report that MySQL or Redis refuses the app fails at once.
//
// Exit status: 0 when the stack works, 1 when it does not, 2 for a usage error.
package main

import (
	"context"
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

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("smoke", flag.ContinueOnError)
	flags.SetOutput(stderr)
	timeout := flags.Duration("timeout", 60*time.Second, "how long to wait for the stack to answer")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: smoke [-timeout 60s] URL")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() != 1 || !strings.HasPrefix(flags.Arg(0), "http") {
		flags.Usage()
		return 2
	}
	base := strings.TrimSuffix(flags.Arg(0), "/")
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := checkStatus(ctx, base); err != nil {
		fmt.Fprintf(stderr, "smoke: %s: %v\n", base, err)
		return 1
	}
	fmt.Fprintf(stdout, "smoke: %s works: the app reaches MySQL and Redis.\n", base)
	return 0
}

// status is the part of status.php's report that smoke reads.
type status struct {
	Status   string `json:"status"`
	Database check  `json:"database"`
	Redis    check  `json:"redis"`
}

type check struct {
	OK     bool   `json:"ok"`
	Reason string `json:"reason"`
}

// errNotYet is an answer that may change once the stack has settled.
var errNotYet = errors.New("not ready")

// checkStatus asks status.php?strict=1 until it reports, or ctx ends.
func checkStatus(ctx context.Context, base string) error {
	url := base + "/status.php?strict=1"
	for {
		err := askStatus(ctx, url)
		if !errors.Is(err, errNotYet) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer from the app in time: %w", err)
		case <-time.After(time.Second):
		}
	}
}

func askStatus(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
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
	return " (on a local stack, the data volume keeps the password it was created with: if the stack's credentials were lost, by a plain `pulumi destroy` for instance, `make destroy` deletes the data and the next `make up` starts afresh; see README: Running a local stack)"
}
