package forge

import "strings"

// ObjectID is the git object id of a path at the snapshot's commit and its
// type (blob, tree, commit); ok is false when nothing is there. Two
// snapshots hold the same bytes under a path exactly when its ids match,
// so comparing a directory costs one lookup in each cached tree listing,
// whatever it holds.
func (s *Snapshot) ObjectID(name string) (id, typ string, ok bool, err error) {
	name = strings.Trim(name, "/")
	if name == "" {
		name = "."
	}
	e, err := s.lookup("stat", name)
	if isNotExist(err) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	return e.sha, e.typ, true, nil
}
