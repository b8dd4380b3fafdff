package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/spladeq/spladeq/internal/docref"
)

// TestReferenceCLI keeps docs/reference/cli.md equal to the command tree:
// every command, its synopsis and every flag with its default (`make docs`
// regenerates it).
func TestReferenceCLI(t *testing.T) {
	docref.Check(t, "../../docs/reference/cli.md", cliReference(newRoot()))
}

// cliReference renders the cobra tree as Markdown.
func cliReference(root *cobra.Command) string {
	root.InitDefaultCompletionCmd()
	var cmds []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Deprecated != "" || sub.Name() == "help" {
				continue
			}
			cmds = append(cmds, sub)
			walk(sub)
		}
	}
	walk(root)

	var b strings.Builder
	b.WriteString(docref.Header("CLI reference", "the command tree in cmd/spladeq"))
	fmt.Fprintf(&b, "%s\n\n", root.Long)
	b.WriteString("Every command takes `-h`/`--help` (help goes to stdout, exit status 0); `spladeq --version` prints the version. " +
		"A failure exits with status 1, a command line that does not parse with status 2.\n\n")
	b.WriteString("| command | what it does |\n|---|---|\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s |\n", c.CommandPath(), docref.Slug(c.CommandPath()), docref.Cell(c.Short))
	}
	for _, c := range cmds {
		fmt.Fprintf(&b, "\n## %s\n\n", c.CommandPath())
		// cobra's own completion commands carry shell instructions laid out
		// for a terminal; their one-line summary says enough here.
		if c.Long != "" && c.Name() != "completion" && c.Parent().Name() != "completion" {
			fmt.Fprintf(&b, "%s\n\n", strings.Join(strings.Fields(c.Long), " "))
		} else {
			fmt.Fprintf(&b, "%s\n\n", upperFirst(c.Short))
		}
		fmt.Fprintf(&b, "```text\n%s\n```\n", strings.TrimSpace(c.UseLine()))
		if len(c.Aliases) > 0 {
			fmt.Fprintf(&b, "\nAliases: `%s`.\n", strings.Join(c.Aliases, "`, `"))
		}
		var flags []*pflag.Flag
		c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden && f.Name != "help" {
				flags = append(flags, f)
			}
		})
		if len(flags) == 0 {
			continue
		}
		b.WriteString("\n| flag | default | meaning |\n|---|---|---|\n")
		for _, f := range flags {
			name, usage := pflag.UnquoteUsage(f)
			flag := "--" + f.Name
			if f.Shorthand != "" {
				flag = "-" + f.Shorthand + ", " + flag
			}
			if name != "" {
				flag += " " + name
			}
			def := f.DefValue
			switch {
			case def == "" || def == "[]":
				def = ""
			default:
				def = "`" + def + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", flag, docref.Cell(def), docref.Cell(usage))
		}
	}
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}
