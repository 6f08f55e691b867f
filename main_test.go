package main

import (
	"os"
	"testing"
)

// TestMain removes what the tests built once for all of them.
func TestMain(m *testing.M) {
	code := m.Run()
	if mariaDBTemplate.dir != "" {
		os.RemoveAll(mariaDBTemplate.dir)
	}
	os.Exit(code)
}
