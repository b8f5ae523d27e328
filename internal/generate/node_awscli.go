package generate

import (
	"encoding/json"
	"strconv"
	"strings"
)

// awsCLI writes the fix as AWS CLI commands for resources exported from a
// live account.
func (f *nodeFix) awsCLI() string {
	var b strings.Builder
	switch f.cfg.Kind {
	case "ec2 describe-instances":
		b.WriteString(comment("Changes the running instance now. Instances launched later from its launch template get the template's settings: fix the template too."))
		b.WriteString("aws ec2 modify-instance-metadata-options --instance-id " + shellQuote(f.cfg.Name) +
			" --http-tokens required --http-put-response-hop-limit 1\n")
	case awsCLIVersionsKind, "ec2 get-launch-template-data":
		id, version := "LAUNCH_TEMPLATE_ID", "SOURCE_VERSION"
		if f.cfg.Kind == awsCLIVersionsKind {
			id, version = templateID(f.cfg.Name), strconv.Itoa(f.sourceVersion)
			b.WriteString(comment("Based on version " + version + ", the latest of this template read."))
		} else {
			b.WriteString(comment("The export names no launch template: put in its ID and the version it was read from."))
		}
		b.WriteString(comment("Makes a new version of the launch template with IMDSv2 required and hop limit 1, and makes it the " +
			"default. Node groups and Auto Scaling groups that pin a version number need to be moved to it (for an EKS " +
			"managed node group: aws eks update-nodegroup-version --launch-template id=" + id + ",version=$version)."))
		b.WriteString("version=$(aws ec2 create-launch-template-version --launch-template-id " + shellQuote(id) +
			" --source-version " + shellQuote(version) + " \\\n  --launch-template-data " + shellQuote(f.launchTemplateData()) +
			" \\\n  --query LaunchTemplateVersion.VersionNumber --output text)\n")
		b.WriteString("aws ec2 modify-launch-template --launch-template-id " + shellQuote(id) + " --default-version \"$version\"\n")
	}
	return b.String()
}

// launchTemplateData is the --launch-template-data JSON: the metadata
// options of the fix, with those the source sets kept.
func (f *nodeFix) launchTemplateData() string {
	keep := keptSettings(f.cfg.AWS)
	type options struct {
		HTTPEndpoint         string `json:"HttpEndpoint,omitempty"`
		HTTPTokens           string `json:"HttpTokens"`
		HopLimit             int    `json:"HttpPutResponseHopLimit"`
		HTTPProtocolIPv6     string `json:"HttpProtocolIpv6,omitempty"`
		InstanceMetadataTags string `json:"InstanceMetadataTags,omitempty"`
	}
	data := struct {
		MetadataOptions options `json:"MetadataOptions"`
	}{options{keep.endpoint, "required", 1, keep.ipv6, keep.tags}}
	b, err := json.Marshal(data)
	if err != nil {
		panic("encoding launch template data: " + err.Error()) // a fixed struct of strings
	}
	return string(b)
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe
// characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
