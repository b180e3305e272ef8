package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// payloadMeta is the little a delivery's routing needs from its payload.
type payloadMeta struct {
	Action         string
	InstallationID int64
	Repository     string
}

var errNotObject = errors.New("payload is not a JSON object")

// readMeta reads the top-level "action", "installation.id" and
// "repository.full_name" of a JSON object in one pass, skipping everything
// else without decoding it. It checks the document's structure (an object,
// strings, brackets and separators where they belong), not every literal:
// the payload was signed by GitHub, and the job that handles it decodes it
// in full. Decoding a whole payload (often tens of kilobytes of repository
// and sender objects) with encoding/json on the acknowledgement path would
// cost more than the rest of the handler.
func readMeta(b []byte) (payloadMeta, error) {
	var m payloadMeta
	s := scanner{b: b}
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "action":
			if s.peek() == '"' {
				str, err := s.str()
				if err != nil {
					return err
				}
				m.Action, err = unquote(str)
				return err
			}
		case "installation":
			if s.peek() == '{' {
				return s.object(func(key []byte) error {
					if string(key) == "id" && s.peek() != '"' && s.peek() != '{' && s.peek() != '[' {
						lit, err := s.literal()
						if err != nil {
							return err
						}
						if n, err := strconv.ParseInt(string(lit), 10, 64); err == nil {
							m.InstallationID = n
						}
						return nil
					}
					return s.skip()
				})
			}
		case "repository":
			if s.peek() == '{' {
				return s.object(func(key []byte) error {
					if string(key) == "full_name" && s.peek() == '"' {
						str, err := s.str()
						if err != nil {
							return err
						}
						m.Repository, err = unquote(str)
						return err
					}
					return s.skip()
				})
			}
		}
		return s.skip()
	})
	if err != nil {
		return payloadMeta{}, err
	}
	s.space()
	if s.i != len(s.b) {
		return payloadMeta{}, errNotObject
	}
	return m, nil
}

// unquote decodes a JSON string token (quotes included).
func unquote(tok []byte) (string, error) {
	plain := true
	for _, c := range tok[1 : len(tok)-1] {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		return string(tok[1 : len(tok)-1]), nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", errNotObject
	}
	return s, nil
}

// scanner walks a JSON document.
type scanner struct {
	b     []byte
	i     int
	depth int
}

// maxDepth bounds nesting, and with it the scanner's recursion.
const maxDepth = 512

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// peek is the next non-space byte, 0 at the end.
func (s *scanner) peek() byte {
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object reads an object, calling member with each key, positioned at its
// value; member must consume the value.
func (s *scanner) object(member func(key []byte) error) error {
	if s.peek() != '{' {
		return errNotObject
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		if s.peek() != '"' {
			return errNotObject
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return errNotObject
		}
		s.i++
		if s.peek() == 0 {
			return errNotObject
		}
		name := key[1 : len(key)-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			k, err := unquote(key)
			if err != nil {
				return err
			}
			name = []byte(k)
		}
		if err := member(name); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errNotObject
		}
	}
}

// str reads a string token, quotes included.
func (s *scanner) str() ([]byte, error) {
	start := s.i
	s.i++ // the opening quote
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '\\':
			s.i += 2
		case c == '"':
			s.i++
			return s.b[start:s.i], nil
		case c < 0x20:
			return nil, errNotObject
		default:
			s.i++
		}
	}
	return nil, errNotObject
}

// literal reads a number, true, false or null.
func (s *scanner) literal() ([]byte, error) {
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			if s.i == start {
				return nil, errNotObject
			}
			return s.b[start:s.i], nil
		case '"', '{', '[', ':':
			return nil, errNotObject
		}
		s.i++
	}
	return nil, errNotObject // a document never ends in a literal here
}

// skip reads a value without keeping it.
func (s *scanner) skip() error {
	switch s.peek() {
	case '"':
		_, err := s.str()
		return err
	case '{', '[':
		return s.skipComposite()
	case 0:
		return errNotObject
	}
	_, err := s.literal()
	return err
}

// skipComposite reads an object or an array without keeping it.
func (s *scanner) skipComposite() error {
	if s.depth++; s.depth > maxDepth {
		return errNotObject
	}
	defer func() { s.depth-- }()
	end, isObject := byte(']'), s.b[s.i] == '{'
	if isObject {
		end = '}'
	}
	s.i++
	if s.peek() == end {
		s.i++
		return nil
	}
	for {
		if isObject {
			if s.peek() != '"' {
				return errNotObject
			}
			if _, err := s.str(); err != nil {
				return err
			}
			if s.peek() != ':' {
				return errNotObject
			}
			s.i++
		}
		if err := s.skip(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case end:
			s.i++
			return nil
		default:
			return errNotObject
		}
	}
}
