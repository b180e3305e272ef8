package gitops

import (
	"fmt"
	"sort"

	"github.com/rdsbot/rdsbot/pkg/tfvars"
	"github.com/zclconf/go-cty/cty"
)

func boolVal(b bool) cty.Value { return cty.BoolVal(b) }

// attrOrder puts the attributes of an application_databases value in the
// order the files use; others follow sorted.
var attrOrder = map[string]int{"database_name": 0, "username": 1}

// objectAttrs turns an entry's object value into attributes to write.
func objectAttrs(e tfvars.Entry) ([]tfvars.Attr, error) {
	if !e.Value.Type().IsObjectType() {
		return nil, fmt.Errorf("entry %q is not an object", e.Key)
	}
	var attrs []tfvars.Attr
	for name := range e.Value.Type().AttributeTypes() {
		attrs = append(attrs, tfvars.Attr{Name: name, Value: e.Value.GetAttr(name)})
	}
	sort.Slice(attrs, func(i, j int) bool {
		oi, iok := attrOrder[attrs[i].Name]
		oj, jok := attrOrder[attrs[j].Name]
		switch {
		case iok && jok:
			return oi < oj
		case iok != jok:
			return iok
		}
		return attrs[i].Name < attrs[j].Name
	})
	return attrs, nil
}
