package provision

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/config"
)

// LoadGenerated reads the entries of the contract-driven mode: every file of
// files' directory that matches its pattern holds {"rds_databases": {key:
// {database_name, username, ...}}}, generated from one request contract.
// Entries of every file are validated together (a key or a name used twice
// is an error); a directory that does not exist has no entries.
func LoadGenerated(repo fs.FS, files config.FilePattern) ([]Entry, error) {
	des, err := fs.ReadDir(repo, files.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out []Entry
	var errs []error
	for _, de := range des {
		if _, ok := files.Match(de.Name()); !ok || de.IsDir() {
			continue
		}
		p := path.Join(files.Dir, de.Name())
		src, err := fs.ReadFile(repo, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		es, err := readGenerated(src, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, es...)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return out, ValidateEntries(out)
}

// readGenerated reads one generated file. Attributes it does not know are
// terraform's (instance class, storage, metadata) and are left alone.
func readGenerated(src []byte, file string) ([]Entry, error) {
	var doc struct {
		Databases map[string]*struct {
			Database    *string `json:"database_name"`
			Username    *string `json:"username"`
			AccessLevel *string `json:"access_level"`
			CreateDB    *bool   `json:"createdb"`
		} `json:"rds_databases"`
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if doc.Databases == nil {
		return nil, fmt.Errorf("%s: rds_databases is required", file)
	}
	keys := make([]string, 0, len(doc.Databases))
	for k := range doc.Databases {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []Entry
	var errs []error
	for _, k := range keys {
		v := doc.Databases[k]
		e := Entry{Key: k, Access: Owner, CreateDB: true, File: file}
		switch {
		case v == nil:
			errs = append(errs, fmt.Errorf("%s: must be an object with database_name and username", e.where()))
			continue
		case v.Database == nil || v.Username == nil:
			errs = append(errs, fmt.Errorf("%s: database_name and username are required", e.where()))
			continue
		}
		e.Database, e.Username = *v.Database, *v.Username
		if v.AccessLevel != nil {
			e.Access = Access(*v.AccessLevel)
		}
		if v.CreateDB != nil {
			e.CreateDB = *v.CreateDB
		}
		out = append(out, e)
	}
	return out, errors.Join(errs...)
}

// LoadEnvironment reads every entry of env in a repository: the tfvars
// chosen by mode and, in the contract-driven mode, the generated JSON of
// each contract (where the tfvars may be absent: src is then zero). Names
// are validated across both.
func LoadEnvironment(repo fs.FS, cfg *config.Config, env string, mode Mode) (entries []Entry, src Source, where string, err error) {
	contract := cfg.RequestMode == config.ModeContract
	var places []string
	if contract {
		files := cfg.GeneratedTfvarsFiles(env)
		if entries, err = LoadGenerated(repo, files); err != nil {
			return nil, Source{}, "", err
		}
		places = append(places, files.Dir)
	}
	src, err = ResolveSource(repo, cfg, env, mode)
	switch {
	case err == nil:
		tf, err := LoadEntries(repo, src)
		if err != nil {
			return nil, Source{}, "", err
		}
		entries = append(entries, tf...)
		places = append(places, fmt.Sprintf("%s (%s mode)", src.Path, src.Mode))
	case contract && (mode == ModeAuto || mode == ""):
		src = Source{}
	default:
		return nil, Source{}, "", err
	}
	if err := ValidateEntries(entries); err != nil {
		return nil, Source{}, "", err // a name in both the tfvars and a contract
	}
	return entries, src, strings.Join(places, " and "), nil
}
