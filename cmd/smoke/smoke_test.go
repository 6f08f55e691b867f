package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func smoke(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

const (
	healthy   = `{"status": "ok", "database": {"ok": true}, "redis": {"ok": true}}`
	dbRefuses = `{"status": "degraded", "database": {"ok": false, "reason": "access-denied"}, "redis": {"ok": true}}`
	redisDown = `{"status": "degraded", "database": {"ok": true}, "redis": {"ok": false, "reason": "unreachable"}}`
)

// answers serves the given answers in turn, then the last one again.
func answers(t *testing.T, list ...func(w http.ResponseWriter)) string {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status.php" || r.URL.Query().Get("strict") != "1" {
			http.NotFound(w, r)
			return
		}
		i := min(int(n.Add(1))-1, len(list)-1)
		list[i](w)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func reply(code int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

func TestSmoke(t *testing.T) {
	cases := []struct {
		name    string
		answers []func(w http.ResponseWriter)
		code    int
		want    string
	}{
		{"works", []func(http.ResponseWriter){reply(200, healthy)}, 0, "works: the app reaches MySQL and Redis"},
		{"mysql refuses", []func(http.ResponseWriter){reply(503, dbRefuses)}, 1, "MySQL refuses the app's credentials (access-denied"},
		{"redis down", []func(http.ResponseWriter){reply(503, redisDown)}, 1, "the app cannot reach Redis (unreachable"},
		{"proxy not ready, then works", []func(http.ResponseWriter){reply(502, "<html>Bad Gateway</html>"), reply(200, healthy)}, 0, "works"},
		{"not the app", []func(http.ResponseWriter){reply(404, "nothing here")}, 1, "answers 404 Not Found, not the app's status report: nothing here"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := smoke(t, "-timeout", "10s", answers(t, c.answers...))
			if code != c.code || !strings.Contains(out+errOut, c.want) {
				t.Errorf("exit %d, output %q %q; want %d and %q", code, out, errOut, c.code, c.want)
			}
		})
	}
	// MySQL's access denied gets a hint: the volume keeps the password it was created with.
	if _, _, errOut := smoke(t, answers(t, reply(503, dbRefuses))); !strings.Contains(errOut, "make destroy") {
		t.Errorf("no hint for access denied: %s", errOut)
	}
}

func TestSmokeGivesUp(t *testing.T) {
	code, _, errOut := smoke(t, "-timeout", "2s", answers(t, reply(502, "Bad Gateway")))
	if code != 1 || !strings.Contains(errOut, "no answer from the app in time") || !strings.Contains(errOut, "502") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestSmokeUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"localhost:8080"}, {"http://a", "http://b"}} {
		if code, _, errOut := smoke(t, args...); code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
}
