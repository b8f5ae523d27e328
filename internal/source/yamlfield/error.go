package yamlfield

import (
	"strconv"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Error is a problem with a field of a document. Its fields are those of
// manifest.InputError, which the manifest loader converts it to.
type Error struct {
	Source model.Source
	// Object is what the error is about, as the loader names it (a
	// NodeConfig Kind and Name, a CloudFormation resource, a parameter);
	// zero for the document as a whole.
	Object model.ObjectRef
	Msg    string
}

// Error renders the error as "file:line: kind name: msg".
func (e *Error) Error() string {
	s := e.Source.File + ":" + strconv.Itoa(e.Source.Line)
	if e.Object.Kind != "" {
		s += ": " + e.Object.Kind
		if e.Object.Name != "" {
			s += " " + e.Object.Name
		}
	}
	return s + ": " + e.Msg
}
