package bot

import "testing"

func TestRunLink(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://github.com/acme/infra/actions/runs/42", "[42](https://github.com/acme/infra/actions/runs/42)"},
		{"http://127.0.0.1:8080/acme/infra/actions/runs/7", "[7](http://127.0.0.1:8080/acme/infra/actions/runs/7)"},
		{"", ""},
		{"javascript:alert(1)", ""},
		{"https://x/runs/1)[evil](https://y", ""},
		{"/relative/runs/3", ""},
	} {
		if got := runLink(c.in); got != c.want {
			t.Errorf("runLink(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
