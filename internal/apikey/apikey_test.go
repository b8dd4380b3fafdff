package apikey

import (
	"net/http/httptest"
	"testing"
)

func TestFromRequestAndMatch(t *testing.T) {
	for _, tc := range []struct {
		header, value, want string
	}{
		{"X-API-Key", "k1", "k1"},
		{"Authorization", "Bearer k2", "k2"},
		{"Authorization", "bearer   k3 ", "k3"},
		{"Authorization", "Basic k4", ""},
		{"", "", ""},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			r.Header.Set(tc.header, tc.value)
		}
		if got := FromRequest(r); got != tc.want {
			t.Errorf("%s: %q: got %q, want %q", tc.header, tc.value, got, tc.want)
		}
	}
	keys := []string{"alpha-key-0123456789", "beta-key-0123456789"}
	for key, want := range map[string]bool{"beta-key-0123456789": true, "alpha-key-012345678": false, "": false, "gamma": false} {
		if got := Match(key, keys); got != want {
			t.Errorf("Match(%q) = %v, want %v", key, got, want)
		}
	}
	if Match("", []string{""}) {
		t.Error("an empty key matched an empty configured key")
	}
}
