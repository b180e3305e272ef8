package secrets

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/uuid"
)

// Memory is an in-process Store for tests. The zero value is not usable; call
// NewMemory.
type Memory struct {
	mu      sync.Mutex
	secrets map[string]*Secret
	reads   int
}

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{secrets: map[string]*Secret{}} }

// Describe implements Store.
func (m *Memory) Describe(_ context.Context, name string) (*Metadata, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.secrets[name]
	if !ok {
		return nil, &NotFoundError{Name: name}
	}
	return &Metadata{Name: name, VersionID: s.VersionID}, nil
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, name string) (*Secret, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.secrets[name]
	if !ok {
		return nil, &NotFoundError{Name: name}
	}
	m.reads++
	c := *s
	return &c, nil
}

// Create implements Store.
func (m *Memory) Create(_ context.Context, name, value string, _ CreateOptions) (*Metadata, error) {
	if err := checkValue(name, value); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.secrets[name]; ok {
		return nil, fmt.Errorf("%s: %w", name, ErrExists)
	}
	s := &Secret{Name: name, VersionID: uuid.NewString(), Value: value}
	m.secrets[name] = s
	return &Metadata{Name: name, VersionID: s.VersionID}, nil
}

// Put implements Store.
func (m *Memory) Put(_ context.Context, name, value string) (*Metadata, error) {
	if err := checkValue(name, value); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.secrets[name]; !ok {
		return nil, &NotFoundError{Name: name}
	}
	s := &Secret{Name: name, VersionID: uuid.NewString(), Value: value}
	m.secrets[name] = s
	return &Metadata{Name: name, VersionID: s.VersionID}, nil
}

// Reads counts Get calls that returned a value (tests use it to check that a
// rerun reads no secret value).
func (m *Memory) Reads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}

func checkValue(name, value string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if len(value) == 0 || len(value) > MaxValueSize {
		return fmt.Errorf("secret %s: value must be 1 to %d bytes, got %d", name, MaxValueSize, len(value))
	}
	return nil
}
