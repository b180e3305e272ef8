package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseJSONObject reads a JSON object strictly: a key given twice (which
// encoding/json resolves silently, keeping the last) is refused with its
// line and column, at every depth, and so is anything after the object.
// Numbers stay json.Number so that 7 and 7.0 can be told apart. A syntax
// error comes back alone.
func ParseJSONObject(data []byte, filename string) (map[string]any, Problems) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var probs Problems
	pos := func(off int64) string {
		line := 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n"))
		col := int(off) - bytes.LastIndexByte(data[:min(int(off), len(data))], '\n')
		return fmt.Sprintf("%s:%d:%d", filename, line, col)
	}
	syntax := func(err error) (map[string]any, Problems) {
		msg := err.Error()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, Problems{{Message: fmt.Sprintf("%s is not valid JSON at %s: %s", filename, pos(se.Offset), msg), Severity: Error}}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			msg = "it ends before the object is complete"
		}
		return nil, Problems{{Message: fmt.Sprintf("%s is not valid JSON: %s", filename, msg), Severity: Error}}
	}
	var value func(path string) (any, error)
	object := func(path string) (map[string]any, error) {
		out := map[string]any{}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key := t.(string)
			// The key's opening quote, for the position of a duplicate.
			off := int64(bytes.LastIndexByte(data[:max(dec.InputOffset()-1, 0)], '"'))
			v, err := value(path + key + ".")
			if err != nil {
				return nil, err
			}
			if _, dup := out[key]; dup {
				probs = append(probs, Problem{Field: strings.TrimSuffix(path+key, "."), Name: path + key,
					Message: "is given twice; keep one", Origin: pos(off), Severity: Error})
				continue
			}
			out[key] = v
		}
		_, err := dec.Token() // }
		return out, err
	}
	value = func(path string) (any, error) {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch d := t.(type) {
		case json.Delim:
			if d == '{' {
				return object(path)
			}
			var list []any
			for dec.More() {
				v, err := value(path)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token() // ]
			return list, err
		default:
			return d, nil
		}
	}
	t, err := dec.Token()
	if err != nil {
		return syntax(err)
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, Problems{{Message: fmt.Sprintf("%s must hold a JSON object ({\"database_name\": ...}), not %v", filename, t), Severity: Error}}
	}
	out, err := object("")
	if err != nil {
		return syntax(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, Problems{{Message: fmt.Sprintf("%s holds more after its object (at %s); give one object", filename, pos(dec.InputOffset())), Severity: Error}}
	}
	return out, probs
}

// number classifies a JSON number: a whole number (7, and 7.0) or not.
func number(n json.Number) (RawValue, bool) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return RawValue{Text: strconv.FormatInt(i, 10), Kind: KindInt}, true
	}
	f, err := n.Float64()
	if err != nil {
		return RawValue{Text: string(n), Kind: KindFloat}, false
	}
	if f == float64(int64(f)) {
		return RawValue{Text: strconv.FormatInt(int64(f), 10), Kind: KindInt}, true
	}
	return RawValue{Text: string(n), Kind: KindFloat}, true
}
