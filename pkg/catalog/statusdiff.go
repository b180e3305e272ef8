package catalog

import (
	"fmt"
	"reflect"
	"slices"

	"gopkg.in/yaml.v3"
)

// StatusOnly reports whether after differs from before only in what a
// status transition writes: an entry's status, its status_history (only
// appended to, the last event naming the new status) and the header's
// last_updated. Everything else is compared as YAML values (comments and
// layout are not): the other header fields, the set of entries, every
// other field of each. why says what else changed. Either file not being a
// catalog is an error.
func StatusOnly(before, after []byte) (ok bool, why string, err error) {
	b, err := decodeValue(before)
	if err != nil {
		return false, "", fmt.Errorf("catalog before: %w", err)
	}
	a, err := decodeValue(after)
	if err != nil {
		return false, "", fmt.Errorf("catalog after: %w", err)
	}
	delete(b, "last_updated")
	delete(a, "last_updated")
	bdbs, _ := b[keyDatabases].(map[string]any)
	adbs, _ := a[keyDatabases].(map[string]any)
	for name, av := range adbs {
		bv, found := bdbs[name]
		if !found {
			return false, fmt.Sprintf("entry %s was added", name), nil
		}
		if why := stripStatus(name, bv, av); why != "" {
			return false, why, nil
		}
	}
	if !reflect.DeepEqual(b, a) {
		return false, "fields other than status and status_history changed", nil
	}
	return true, "", nil
}

// stripStatus removes status and status_history from both versions of an
// entry's metadata, after checking that the history was only appended to
// and ends with the new status.
func stripStatus(name string, before, after any) string {
	bm, _ := mapAt(before, keyMetadata)
	am, _ := mapAt(after, keyMetadata)
	if bm == nil || am == nil {
		return ""
	}
	bh, _ := bm[keyHistory].([]any)
	ah, _ := am[keyHistory].([]any)
	switch {
	case len(ah) < len(bh) || !slices.EqualFunc(bh, ah[:len(bh)], func(x, y any) bool { return reflect.DeepEqual(x, y) }):
		return fmt.Sprintf("the status history of %s was rewritten", name)
	case reflect.DeepEqual(bm[keyStatus], am[keyStatus]) && len(ah) == len(bh):
	case len(ah) == len(bh):
		return fmt.Sprintf("the status of %s changed without a history event", name)
	default:
		last, _ := ah[len(ah)-1].(map[string]any)
		if last == nil || !reflect.DeepEqual(last[keyStatus], am[keyStatus]) {
			return fmt.Sprintf("the last history event of %s does not name its status", name)
		}
	}
	for _, m := range []map[string]any{bm, am} {
		delete(m, keyStatus)
		delete(m, keyHistory)
	}
	return ""
}

func mapAt(v any, key string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	out, ok := m[key].(map[string]any)
	return out, ok
}

// decodeValue reads a catalog document as plain YAML values.
func decodeValue(src []byte) (map[string]any, error) {
	var out map[string]any
	if err := yaml.Unmarshal(src, &out); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("not a mapping")
	}
	return out, nil
}
