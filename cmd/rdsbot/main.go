// Command rdsbot is the RDS self-service GitHub App and its command line:
// serve the App, plan a request into a working tree, validate a repository,
// generate the request forms, provision Postgres, and run the sandbox demo.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/rdsbot/rdsbot/pkg/apply/tfstandin"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitInvalid = 2 // invalid input: bad flags, an invalid request
)

// invalidError marks an error caused by the caller's input (exit 2).
type invalidError struct{ err error }

func (e invalidError) Error() string { return e.err.Error() }
func (e invalidError) Unwrap() error { return e.err }

func invalid(err error) error { return invalidError{err} }

// cli carries the process's streams so commands are testable in-process.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

type command struct {
	summary string
	run     func(ctx context.Context, c *cli, args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, c *cli, args []string) error) {
	commands[name] = command{summary: summary, run: run}
}

func main() {
	// Started as terraform-standin (a link to this binary): the stand-in
	// terraform of tests and the sandbox (pkg/apply/tfstandin).
	if tfstandin.Invoked(os.Args[0]) {
		os.Exit(tfstandin.Main(os.Args, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &cli{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, c *cli) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(c.stdout)
		if len(args) == 0 {
			return exitInvalid
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(c.stderr, "rdsbot: unknown command %q\n\n", args[0])
		usage(c.stderr)
		return exitInvalid
	}
	err := cmd.run(ctx, c, args[1:])
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, new(invalidError)):
		fmt.Fprintf(c.stderr, "rdsbot %s: %v\n", args[0], err)
		return exitInvalid
	default:
		fmt.Fprintf(c.stderr, "rdsbot %s: %v\n", args[0], err)
		return exitFailure
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "rdsbot: self-service PostgreSQL databases through pull requests.")
	fmt.Fprintln(w, "\nUsage: rdsbot <command> [flags]   (rdsbot <command> --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nExit codes: 0 ok, 1 failure, 2 invalid input.")
}

// newFlags builds a flag set whose errors come back (never exit) and whose
// --help prints the command's description first.
func newFlags(c *cli, name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("rdsbot "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: rdsbot %s %s\n\n%s\n\nFlags:\n", name, synopsis, strings.TrimSpace(description))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses and turns flag errors into invalid input; --help prints
// to stdout and ends the command successfully.
func parseFlags(c *cli, fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(c.stdout)
		fs.Usage()
		return flag.ErrHelp
	}
	fs.SetOutput(c.stderr)
	if err != nil {
		return invalid(err)
	}
	if fs.NArg() > 0 {
		return invalid(fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	return nil
}
