package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// APIVersion and Kind identify the configuration file format.
const (
	APIVersion = "imdsguard.io/v1alpha1"
	Kind       = "ScanConfig"
)

// File is the on-disk configuration, version v1alpha1.
type File struct {
	APIVersion   string        `yaml:"apiVersion"`
	Kind         string        `yaml:"kind"`
	Suppressions []Suppression `yaml:"suppressions"`
	// NodeProfiles declare node metadata settings that no input states.
	NodeProfiles []nodeProfile `yaml:"nodeProfiles"`
}

// Config is a validated configuration file.
type Config struct {
	Suppressions []rules.ConfigSuppression
	// NodeProfiles are node settings declared in the file, each with the
	// file and line of its values.
	NodeProfiles []*model.NodeConfig
}

// Suppression is one entry of the suppressions list.
type Suppression struct {
	Rule      string `yaml:"rule"`
	Namespace string `yaml:"namespace"`
	Kind      string `yaml:"kind"`
	Name      string `yaml:"name"`
	Reason    string `yaml:"reason"`
	line      int
}

// suppressionFields are the keys a suppression entry may have.
var suppressionFields = map[string]bool{"rule": true, "namespace": true, "kind": true, "name": true, "reason": true}

// UnmarshalYAML records the entry's line for messages, and refuses unknown
// fields itself: node.Decode has no strict mode.
func (s *Suppression) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; !suppressionFields[k.Value] {
				return fmt.Errorf("line %d: unknown field %q in a suppression (want rule, namespace, kind, name, reason)", k.Line, k.Value)
			}
		}
	}
	type plain Suppression
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*s = Suppression(p)
	s.line = n.Line
	return nil
}

const maxConfigBytes = 1 << 20

// Load reads and validates a configuration file.
func Load(file string) (*Config, error) {
	b, err := ReadFile(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, b)
}

// ReadFile reads a configuration file of at most 1 MiB: configuration is
// small, and a huge file is a mistake.
func ReadFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", file, err)
	}
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("%s: config file is larger than 1 MiB", file)
	}
	return b, nil
}

// Parse validates configuration bytes read from file.
func Parse(file string, b []byte) (*Config, error) {
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	var cfg File
	if err := d.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty config file", file)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var extra yaml.Node
	if err := d.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: want exactly one YAML document", file)
	}
	if cfg.APIVersion != APIVersion || cfg.Kind != Kind {
		return nil, fmt.Errorf("%s: want apiVersion %s and kind %s, got %q and %q", file, APIVersion, Kind, cfg.APIVersion, cfg.Kind)
	}
	out := make([]rules.ConfigSuppression, 0, len(cfg.Suppressions))
	for i, s := range cfg.Suppressions {
		where := fmt.Sprintf("%s:%d: suppressions[%d]", file, s.line, i)
		if strings.TrimSpace(s.Rule) == "" || strings.TrimSpace(s.Reason) == "" {
			return nil, fmt.Errorf("%s: rule and reason are required", where)
		}
		for _, p := range []string{s.Namespace, s.Kind, s.Name} {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("%s: bad pattern %q: %w", where, p, err)
			}
		}
		out = append(out, rules.ConfigSuppression{Rule: s.Rule, Namespace: s.Namespace, Kind: s.Kind, Name: s.Name,
			Reason: s.Reason, Source: model.Source{File: file, Line: s.line}})
	}
	res := &Config{Suppressions: out}
	names := map[string]int{}
	for _, p := range cfg.NodeProfiles {
		inFile(p.cfg, file)
		if first, dup := names[p.cfg.Name]; dup {
			return nil, fmt.Errorf("%s: node profile %q is declared twice (first at line %d)", p.cfg.Source, p.cfg.Name, first)
		}
		names[p.cfg.Name] = p.cfg.Source.Line
		res.NodeProfiles = append(res.NodeProfiles, p.cfg)
	}
	return res, nil
}
