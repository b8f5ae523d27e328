package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/config"
)

// The config file format.
const (
	ConfigAPIVersion = "imdsguard.io/v1alpha1"
	ConfigKind       = "ProxyConfig"
	// DefaultProfileAnnotation selects a profile on a pod or a namespace.
	DefaultProfileAnnotation = "imdsguard.io/metadata-profile"
)

// Config is the proxy's policy configuration.
type Config struct {
	Options
	// ProfileAnnotation is the pod or namespace annotation whose value names
	// a profile.
	ProfileAnnotation string
	Profiles          []Profile
}

// Profile is a named allowance, and the namespaces whose pods may select it.
// Selecting is by annotation, which anyone who may create a pod can write;
// the namespace list is what keeps a pod from granting itself credentials.
type Profile struct {
	Name       string   `yaml:"name"`
	Namespaces []string `yaml:"namespaces"`
	Paths      []string `yaml:"paths"`
	Grants     []Rule   `yaml:"grants"`
	Reason     string   `yaml:"reason"`
}

type configFile struct {
	APIVersion        string    `yaml:"apiVersion"`
	Kind              string    `yaml:"kind"`
	Cloud             Flavour   `yaml:"cloud"`
	RequireIMDSv2     bool      `yaml:"requireIMDSv2"`
	Allow             []string  `yaml:"allow"`
	Hosts             []string  `yaml:"hosts"`
	ProfileAnnotation string    `yaml:"profileAnnotation"`
	Profiles          []Profile `yaml:"profiles"`
}

// LoadConfig reads and checks a config file.
func LoadConfig(file string) (*Config, error) {
	b, err := config.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParseConfig(file, b)
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// ParseConfig decodes config bytes strictly: unknown fields, a second
// document and bad values are errors that name file:line.
func ParseConfig(file string, b []byte) (*Config, error) {
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	var cf configFile
	if err := d.Decode(&cf); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty proxy config", file)
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				msgs[i] = yamlLine.ReplaceAllString(m, file+":$1: ")
			}
			return nil, errors.New(strings.Join(msgs, "\n"))
		}
		return nil, errors.New(yamlLine.ReplaceAllString(err.Error(), file+":$1: "))
	}
	var extra yaml.Node
	if err := d.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: want exactly one YAML document", file)
	}
	var root yaml.Node
	_ = yaml.Unmarshal(b, &root) // decoded above; only the lines are wanted
	at := func(key string, i int) string {
		return fmt.Sprintf("%s:%d: %s[%d]", file, itemLine(&root, key, i), key, i)
	}
	if cf.APIVersion != ConfigAPIVersion || cf.Kind != ConfigKind {
		return nil, fmt.Errorf("%s:1: want apiVersion %s and kind %s, got %q and %q", file, ConfigAPIVersion, ConfigKind, cf.APIVersion, cf.Kind)
	}
	if cf.Cloud == "" {
		cf.Cloud = FlavourAuto
	}
	if _, err := ParseFlavour(string(cf.Cloud)); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", file, keyLine(&root, "cloud"), err)
	}
	for i, p := range cf.Allow {
		if err := CheckPathPattern(p); err != nil {
			return nil, fmt.Errorf("%s: %w", at("allow", i), err)
		}
	}
	if cf.ProfileAnnotation == "" {
		cf.ProfileAnnotation = DefaultProfileAnnotation
	}
	names := map[string]bool{}
	for i, p := range cf.Profiles {
		if err := checkProfile(p); err != nil {
			return nil, fmt.Errorf("%s: %w", at("profiles", i), err)
		}
		if names[p.Name] {
			return nil, fmt.Errorf("%s: profile %q is defined twice", at("profiles", i), p.Name)
		}
		names[p.Name] = true
	}
	return &Config{
		Options:           Options{Flavour: cf.Cloud, RequireIMDSv2: cf.RequireIMDSv2, Allow: cf.Allow, Hosts: cf.Hosts},
		ProfileAnnotation: cf.ProfileAnnotation,
		Profiles:          cf.Profiles,
	}, nil
}

func checkProfile(p Profile) error {
	if p.Name == "" || strings.TrimSpace(p.Reason) == "" {
		return errors.New("name and reason are required")
	}
	if len(p.Namespaces) == 0 {
		return fmt.Errorf("profile %q: namespaces is required: it says whose pods may select the profile", p.Name)
	}
	for _, ns := range p.Namespaces {
		if _, err := path.Match(ns, ""); err != nil {
			return fmt.Errorf("profile %q: bad namespace pattern %q: %w", p.Name, ns, err)
		}
	}
	for _, pp := range p.Paths {
		if err := CheckPathPattern(pp); err != nil {
			return fmt.Errorf("profile %q: %w", p.Name, err)
		}
	}
	for _, g := range p.Grants {
		if !slices.Contains(Grantable, g) {
			return fmt.Errorf("profile %q: %q cannot be granted (grantable: %s)", p.Name, g, grantableList())
		}
	}
	if len(p.Paths) == 0 && len(p.Grants) == 0 {
		return fmt.Errorf("profile %q allows nothing: give paths or grants", p.Name)
	}
	return nil
}

func grantableList() string {
	s := make([]string, len(Grantable))
	for i, g := range Grantable {
		s[i] = string(g)
	}
	return strings.Join(s, ", ")
}

func mapping(root *yaml.Node) *yaml.Node {
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 && root.Content[0].Kind == yaml.MappingNode {
		return root.Content[0]
	}
	return nil
}

func keyLine(root *yaml.Node, key string) int {
	if m := mapping(root); m != nil {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i].Line
			}
		}
	}
	return 1
}

func itemLine(root *yaml.Node, key string, index int) int {
	if m := mapping(root); m != nil {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if v := m.Content[i+1]; m.Content[i].Value == key && v.Kind == yaml.SequenceNode && index < len(v.Content) {
				return v.Content[index].Line
			}
		}
	}
	return keyLine(root, key)
}

// Allowance resolves what a pod is allowed: the profile its own annotation
// names, else its namespace's. A profile the namespace may not select gives
// nothing, and the reason is returned for the log.
func (c *Config) Allowance(namespace string, podAnnotations, nsAnnotations map[string]string) (Allowance, string) {
	name, from := podAnnotations[c.ProfileAnnotation], "pod"
	if name == "" {
		name, from = nsAnnotations[c.ProfileAnnotation], "namespace"
	}
	if name == "" {
		return Allowance{}, ""
	}
	for _, p := range c.Profiles {
		if p.Name != name {
			continue
		}
		for _, ns := range p.Namespaces {
			if ok, _ := path.Match(ns, namespace); ok {
				return Allowance{Paths: p.Paths, Grants: p.Grants, Profile: p.Name}, ""
			}
		}
		return Allowance{}, fmt.Sprintf("%s annotation selects profile %q, which namespace %q may not use", from, name, namespace)
	}
	return Allowance{}, fmt.Sprintf("%s annotation selects unknown profile %q", from, name)
}
