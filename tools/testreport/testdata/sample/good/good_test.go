package good

import "testing"

func TestPasses(t *testing.T) { t.Log("a log line that is not printed") }

func TestSubtests(t *testing.T) {
	t.Run("needs a server", func(t *testing.T) {
		t.Log("looking for the server")
		t.Skip("skipping the Qdrant 1.19.0 test: no Qdrant 1.19.0 binary: set QDRANT_BIN_1_19, or put one at /x/shared/qdrant/v1.19.0/bin/qdrant")
	})
	t.Run("runs", func(t *testing.T) {})
}

func TestMeasurement(t *testing.T) { t.Skip("set SAMPLE_MEASURE to measure") }

func TestFails(t *testing.T) {
	t.Log("context before the failure")
	t.Errorf("got 1, want 2\nsecond line of the message")
}

func TestNeedsAServerUnderCI(t *testing.T) {
	t.Fatal("CI is set, so the Qdrant 1.17.1 test must run: no Qdrant 1.17.1 binary: set QDRANT_BIN, or put one at /x/shared/qdrant/bin/qdrant")
}
