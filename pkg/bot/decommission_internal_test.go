package bot

import "testing"

func TestDecommissionCommandParsing(t *testing.T) {
	cases := []struct {
		body   string
		cmd    Command
		reason string
	}{
		{"/rds decommission", CmdDecommission, ""},
		{"/rds DECOMMISSION  the app is gone  ", CmdDecommission, "the app is gone"},
		{"please\n/rds decommission retired\nthanks", CmdDecommission, "retired"},
		{"/rds decommission <b>x</b> @someone", CmdDecommission, "<b>x</b> @someone"},
		{"/rds\tdecommission\tdecommission twice", CmdDecommission, "decommission twice"},
	}
	for _, c := range cases {
		cmd, unknown, ok := ParseCommand(c.body)
		if !ok || unknown != "" || cmd != c.cmd {
			t.Errorf("%q: got %q %q %v", c.body, cmd, unknown, ok)
		}
		if got := commandRest(c.body); got != c.reason {
			t.Errorf("%q: reason %q, want %q", c.body, got, c.reason)
		}
	}
}
