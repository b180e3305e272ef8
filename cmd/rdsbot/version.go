package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

func init() {
	register("version", "print the version", func(ctx context.Context, c *cli, args []string) error {
		fs := newFlags(c, "version", "", "Prints the module version and the Go version it was built with.")
		if err := parseFlags(c, fs, args); err != nil {
			return err
		}
		v, goVersion := "(devel)", "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			goVersion = bi.GoVersion
			if bi.Main.Version != "" {
				v = bi.Main.Version
			}
		}
		fmt.Fprintf(c.stdout, "rdsbot %s (%s)\n", v, goVersion)
		return nil
	})
}
