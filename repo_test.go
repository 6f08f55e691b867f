package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Build output never belongs in git: a 17 MB previewguard binary was once committed although
// .gitignore listed it (git ignores only untracked files).
func TestNoCompiledBinaryIsTracked(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		if os.Getenv("SUDOKU_REQUIRE_TOOLS") == "1" {
			t.Fatalf("git ls-files: %v (CI runs in a clone, so git must answer)", err)
		}
		t.Skipf("not a git checkout (%v); skipping", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		head := make([]byte, 512)
		f, err := os.Open(name)
		if err != nil {
			continue // deleted in the work tree
		}
		n, _ := f.Read(head)
		f.Close()
		if kind := executableKind(head[:n]); kind != "" {
			t.Errorf("%s is a compiled %s binary: remove it (git rm --cached %s) and keep build output out of git", name, kind, name)
		}
	}
}

// executableKind names the executable format whose magic number head starts with, or "".
func executableKind(head []byte) string {
	magic := []struct {
		prefix []byte
		kind   string
	}{
		{[]byte("\x7fELF"), "ELF"},
		{[]byte{0xfe, 0xed, 0xfa, 0xce}, "Mach-O"},
		{[]byte{0xfe, 0xed, 0xfa, 0xcf}, "Mach-O"},
		{[]byte{0xce, 0xfa, 0xed, 0xfe}, "Mach-O"},
		{[]byte{0xcf, 0xfa, 0xed, 0xfe}, "Mach-O"},
		{[]byte{0xca, 0xfe, 0xba, 0xbe}, "Mach-O universal"},
		{[]byte("\x00asm"), "WebAssembly"},
	}
	for _, m := range magic {
		if bytes.HasPrefix(head, m.prefix) {
			return m.kind
		}
	}
	// PE (Windows): "MZ", and at offset 0x3c the offset of the "PE\0\0" signature.
	if bytes.HasPrefix(head, []byte("MZ")) && len(head) >= 0x40 {
		if off := int(binary.LittleEndian.Uint32(head[0x3c:])); off+4 <= len(head) && bytes.Equal(head[off:off+4], []byte("PE\x00\x00")) {
			return "PE"
		}
	}
	return ""
}

func TestExecutableKind(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	head, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if executableKind(head[:512]) == "" {
		t.Error("the test binary itself is not recognised as a compiled binary")
	}
	for _, text := range []string{"#!/bin/sh\n", "MZ is a text file that starts like a PE", "package main\n"} {
		if k := executableKind([]byte(text)); k != "" {
			t.Errorf("%q recognised as %s", text, k)
		}
	}
}
