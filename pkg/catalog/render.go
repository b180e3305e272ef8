package catalog

import (
	"bytes"
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"
)

// Bytes renders the catalog. An unchanged file returns its input exactly
// (so an upsert that changed nothing writes nothing). A changed file is
// encoded by yaml.v3 with two-space indentation; the output is parsed again
// and must read back to the same header and entries, or Bytes fails rather
// than return it.
func (f *File) Bytes() ([]byte, error) {
	if !f.dirty {
		return bytes.Clone(f.src), nil
	}
	if f.out == nil {
		out, err := f.encode()
		if err != nil {
			return nil, err
		}
		if err := f.verify(out); err != nil {
			return nil, err
		}
		f.out = out
	}
	return bytes.Clone(f.out), nil
}

func (f *File) encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f.doc); err != nil {
		return nil, fmt.Errorf("%s: encoding the catalog: %w", f.opts.Filename, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("%s: encoding the catalog: %w", f.opts.Filename, err)
	}
	return buf.Bytes(), nil
}

// verify parses out again and compares what it says with f.
func (f *File) verify(out []byte) error {
	again, err := Parse(out, f.opts)
	if err != nil {
		return fmt.Errorf("%s: the edited catalog does not parse again, refusing to write it: %w", f.opts.Filename, err)
	}
	if h, h2 := f.Header(), again.Header(); h != h2 {
		return fmt.Errorf("%s: the edited catalog reads back a different header (%+v, expected %+v), refusing to write it", f.opts.Filename, h2, h)
	}
	if e, e2 := withoutLines(f.Entries()), withoutLines(again.Entries()); !reflect.DeepEqual(e, e2) {
		return fmt.Errorf("%s: the edited catalog reads back different entries, refusing to write it", f.opts.Filename)
	}
	return nil
}

// withoutLines drops source positions, which an edit legitimately moves.
func withoutLines(es []Entry) []Entry {
	for i := range es {
		es[i].Line = 0
	}
	return es
}
