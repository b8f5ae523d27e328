package manifest

import (
	"strconv"

	"github.com/imdsguard/imdsguard/internal/model"
)

// InputError is a problem with the input: a file that cannot be read, a
// document that is not valid YAML, or an object that is not valid Kubernetes.
type InputError struct {
	Source model.Source
	// Object is the object the error is about; zero when it is not known.
	Object model.ObjectRef
	Msg    string
}

// Error renders the error as "file:line: Kind ns/name: msg".
func (e *InputError) Error() string {
	s := e.Source.File
	switch {
	case s != "" && e.Source.Line > 0:
		s += ":" + strconv.Itoa(e.Source.Line)
	case s == "":
		s = e.Source.String() // "cluster NAME", or "<unknown>"
	}
	if obj := objectLabel(e.Object); obj != "" {
		s += ": " + obj
	}
	return s + ": " + e.Msg
}

// objectLabel renders as much of ref as is known.
func objectLabel(ref model.ObjectRef) string {
	switch {
	case ref.Kind == "":
		return ""
	case ref.Name == "":
		return ref.Kind
	}
	return ref.String()
}
