package scan

import (
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

func equalKey(r model.ObjectRef, key string) bool {
	parts := strings.Split(key, "/")
	if len(parts) != 3 {
		return false
	}
	return parts[0] == r.Namespace && strings.EqualFold(parts[1], r.Kind) && parts[2] == r.Name
}
