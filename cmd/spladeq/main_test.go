package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtureModel = "../../splade/testdata/models/bert-tiny"

// spladeq runs the CLI in-process and returns its exit code and output.
func spladeq(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func decodeLines(t *testing.T, out string) []encodedLine {
	t.Helper()
	var lines []encodedLine
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var l encodedLine
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("output is not JSON lines: %v\n%s", err, out)
		}
		lines = append(lines, l)
	}
	return lines
}

func TestEncodeArgumentsAndStdinAgree(t *testing.T) {
	code, out, stderr := spladeq(t, "", "encode", "--model", fixtureModel, "hello world", "second text")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	fromArgs := decodeLines(t, out)
	code, out, stderr = spladeq(t, "hello world\nsecond text\n", "encode", "--model", fixtureModel)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	fromStdin := decodeLines(t, out)
	if len(fromArgs) != 2 || len(fromStdin) != 2 {
		t.Fatalf("got %d and %d lines, want 2 each", len(fromArgs), len(fromStdin))
	}
	for i := range fromArgs {
		if len(fromArgs[i].Indices) == 0 || len(fromArgs[i].Indices) != len(fromStdin[i].Indices) {
			t.Errorf("line %d: %d terms from arguments, %d from stdin", i, len(fromArgs[i].Indices), len(fromStdin[i].Indices))
		}
	}
}

func TestEncodeTopKAndTerms(t *testing.T) {
	code, out, stderr := spladeq(t, "", "encode", "--model", fixtureModel, "--query", "--top-k", "4", "--terms", "2", "what is sparse retrieval")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := decodeLines(t, out)
	if len(lines) != 1 || len(lines[0].Indices) != 4 || len(lines[0].Terms) != 2 {
		t.Fatalf("got %+v, want one line with 4 terms and 2 decoded terms", lines)
	}
	if tok, ok := lines[0].Terms[0][0].(string); !ok || tok == "" {
		t.Errorf("first term %v is not a token string", lines[0].Terms[0])
	}
}

func TestEncodeErrorsNameTheInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"a bad stdin line is named by number", "fine\nbad \xff here\n", []string{"encode", "--model", fixtureModel}, 1, "stdin line 2: invalid UTF-8 at byte 4"},
		{"a bad argument is named by position", "", []string{"encode", "--model", fixtureModel, "ok", "a\x00b"}, 1, "argument 2: NUL byte at byte 1"},
		{"a missing model is named", "", []string{"encode", "--model", "/does/not/exist", "x"}, 1, "/does/not/exist"},
		{"a missing model names where it looked", "", []string{"encode", "--model", "no-such-model", "x"}, 1, `model "no-such-model" not found (looked in no-such-model, models/no-such-model`},
		{"an unknown command is refused", "", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := spladeq(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}

func TestBenchReportsTheRatioAndLatencies(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.md")
	code, stdout, stderr := spladeq(t, "", "bench", "--model", fixtureModel, "--texts", "8", "--iterations", "1", "--docs", "500", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"encoder / raw", "raw forward", "query encode, one query", "blocked / gathered, passes alternating", "hybrid search, 500 docs", "hybrid / dense p50"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	written, err := os.ReadFile(out)
	if err != nil || string(written) != stdout {
		t.Errorf("--out file differs from the output (%v)", err)
	}
}
