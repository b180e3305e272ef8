package policy_test

import (
	"context"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/policy"
)

// A release takes an active break-glass member who did not push the commit.
func TestMayRelease(t *testing.T) {
	pol, _ := newPolicy(t)
	f := &policy.Static{Members: members()}
	pushedBy := []policy.Actor{{Login: "Pete"}} // as the push's sender: a login, any case
	cases := []struct {
		name    string
		by      policy.Actor
		pushers []policy.Actor
		want    bool
	}{
		{"platform-team member who did not push", alice, pushedBy, true},
		{"security-team member", olive, pushedBy, true},
		{"the pusher, although platform-team", pete, pushedBy, false},
		{"pusher unknown", alice, nil, false},
		{"pending membership", paula, pushedBy, false},
		{"no break-glass team", appy, pushedBy, false},
		{"no team", mallory, pushedBy, false},
		{"the App", app, pushedBy, false},
		{"another bot", policy.Actor{Login: "dependabot[bot]"}, pushedBy, false},
		{"nobody", policy.Actor{}, pushedBy, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := pol.MayRelease(context.Background(), f, policy.Release{Environment: "prod", By: c.by, Pushers: c.pushers, App: app})
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != c.want || d.Reason == "" {
				t.Errorf("release by %q: %+v, want allowed=%v", c.by.Login, d, c.want)
			}
		})
	}
}
