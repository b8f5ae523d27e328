package nodesettings

import (
	"github.com/imdsguard/imdsguard/internal/model"
)

// at is a source line in a made-up file.
func at(line int) model.Source { return model.Source{File: "main.tf", Line: line} }

func set(raw string, line int) model.Value {
	return model.Value{State: model.Set, Raw: raw, Source: at(line)}
}

func unres(why string, line int) model.Value {
	return model.Value{State: model.Unresolved, Why: why, Source: at(line)}
}

func unsetAt(line int) model.Value { return model.Value{State: model.Unset, Source: at(line)} }

func awsConfig(kind string, o model.AWSMetadataOptions) *model.NodeConfig {
	return &model.NodeConfig{Cloud: "aws", Kind: kind, Name: "n", Source: at(1), AWS: &o}
}
