package tfstandin

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions are terraform's functions the stand-in knows: go-cty's standard
// library under terraform's names, plus file and fileset read relative to
// the root (and never outside it).
func functions(dir string) map[string]function.Function {
	inRoot := func(p string) (string, bool) {
		full := filepath.Clean(p)
		if !filepath.IsAbs(full) {
			full = filepath.Join(dir, full)
		}
		rel, err := filepath.Rel(dir, full)
		return full, err == nil && !strings.HasPrefix(rel, "..")
	}
	file := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p, ok := inRoot(args[0].AsString())
			if !ok {
				return cty.NilVal, function.NewArgErrorf(0, "the stand-in reads files inside the root only")
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			return cty.StringVal(string(b)), nil
		},
	})
	fileset := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}, {Name: "pattern", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Set(cty.String)),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			base, ok := inRoot(args[0].AsString())
			if !ok {
				return cty.NilVal, function.NewArgErrorf(0, "the stand-in reads files inside the root only")
			}
			matches, err := filepath.Glob(filepath.Join(base, args[1].AsString()))
			if err != nil {
				return cty.NilVal, function.NewArgError(1, err)
			}
			sort.Strings(matches)
			if len(matches) == 0 {
				return cty.SetValEmpty(cty.String), nil
			}
			vals := make([]cty.Value, 0, len(matches))
			for _, m := range matches {
				rel, _ := filepath.Rel(base, m)
				vals = append(vals, cty.StringVal(filepath.ToSlash(rel)))
			}
			return cty.SetVal(vals), nil
		},
	})
	return map[string]function.Function{
		"file": file, "fileset": fileset,
		"jsondecode": stdlib.JSONDecodeFunc, "jsonencode": stdlib.JSONEncodeFunc,
		"merge": stdlib.MergeFunc, "lookup": stdlib.LookupFunc, "keys": stdlib.KeysFunc,
		"values": stdlib.ValuesFunc, "length": stdlib.LengthFunc, "concat": stdlib.ConcatFunc,
		"tomap": stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)), "toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"coalesce": stdlib.CoalesceFunc, "contains": stdlib.ContainsFunc, "try": tryfunc.TryFunc,
		"format": stdlib.FormatFunc, "lower": stdlib.LowerFunc, "upper": stdlib.UpperFunc,
	}
}
