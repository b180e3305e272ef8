package bot

import (
	"strings"
)

// Command is a `/rds <verb>` line in an issue or pull request comment.
type Command string

// Commands authorised users may give.
const (
	CmdStatus Command = "status" // refresh the status comment
	CmdRetry  Command = "retry"  // run the request again (after a failure or a fix)
	CmdPlan   Command = "plan"   // show the change set as a diff and run the rdsbot/plan check again
	// CmdDecommission opens the decommission pull request of an active
	// database; the rest of its line is the reason.
	CmdDecommission Command = "decommission"
	// CmdRelease accepts a commit that changed the environment without a
	// reviewed pull request: `/rds release <sha> <reason>`.
	CmdRelease Command = "release"
)

// ParseCommand finds the first `/rds <verb>` line of a comment body. Only a
// line that starts with /rds counts, so quoting a command in prose does
// nothing; an unknown verb is returned so the bot can say so.
func ParseCommand(body string) (cmd Command, unknown string, ok bool) {
	for _, line := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "/rds" {
			continue
		}
		if len(fields) < 2 {
			return "", "", false
		}
		switch c := Command(strings.ToLower(fields[1])); c {
		case CmdStatus, CmdRetry, CmdPlan, CmdDecommission, CmdRelease:
			return c, "", true
		default:
			return "", fields[1], true
		}
	}
	return "", "", false
}

// CommandArg is the word after the verb of the first `/rds` line ("" when
// none): the commit of `/rds plan <sha>`.
func CommandArg(body string) string {
	for _, line := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "/rds" {
			continue
		}
		if len(fields) < 3 {
			return ""
		}
		return fields[2]
	}
	return ""
}
