package main

import (
	"strings"
	"testing"
)

func TestHelpGoesToStdoutAndExitsZero(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"encode", "--help"}, {"ingest", "-h"}, {"model", "pull", "--help"}, {"help", "serve"}} {
		code, out, errOut := spladeq(t, "", args...)
		if code != 0 || !strings.Contains(out, "Usage:") || errOut != "" {
			t.Errorf("spladeq %v: exit %d, stdout %q, stderr %q; want exit 0 and usage on stdout", args, code, out, errOut)
		}
	}
	_, out, _ := spladeq(t, "", "--help")
	for _, c := range []string{"encode", "serve", "ingest", "search", "bench", "eval", "model", "config", "demo", "completion", "version"} {
		if !strings.Contains(out, "  "+c+" ") {
			t.Errorf("--help does not list %s:\n%s", c, out)
		}
	}
}

func TestVersionFlagAndCommand(t *testing.T) {
	code, out, _ := spladeq(t, "", "--version")
	if code != 0 || !strings.HasPrefix(out, "spladeq version ") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	code, out, _ = spladeq(t, "", "version")
	if code != 0 || !strings.Contains(out, "onnxruntime library") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_spladeq", "zsh": "#compdef spladeq", "fish": "complete -c spladeq", "powershell": "Register-ArgumentCompleter"} {
		code, out, errOut := spladeq(t, "", "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, stderr %q, script lacks %q", shell, code, errOut, want)
		}
	}
	// The shells ask the binary itself; flags of every command complete.
	code, out, _ := spladeq(t, "", "__complete", "ingest", "--sh")
	if code != 0 || !strings.Contains(out, "--shard") {
		t.Errorf("completing `ingest --sh`: exit %d, %q", code, out)
	}
}

func TestBadCommandLinesExitTwo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"encode", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"health"}, "accepts 1 arg"},
		{[]string{"model", "pull"}, "accepts 1 arg"},
		{[]string{"model", "convert"}, "accepts 1 arg"},
		{[]string{"search"}, "Usage:"},
	} {
		code, _, errOut := spladeq(t, "", tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("spladeq %v: exit %d, stderr %q; want exit 2 saying %q", tc.args, code, errOut, tc.want)
		}
	}
}
