package terraform

import (
	"errors"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions are the Terraform functions evaluated here: pure ones whose
// result depends only on their arguments. A call to any other function
// leaves the value Unresolved.
var functions = map[string]function.Function{
	"can":      tryfunc.CanFunc,
	"coalesce": coalesce,
	"concat":   stdlib.ConcatFunc,
	"contains": stdlib.ContainsFunc,
	"format":   stdlib.FormatFunc,
	"join":     stdlib.JoinFunc,
	"lookup":   stdlib.LookupFunc,
	"lower":    stdlib.LowerFunc,
	"merge":    stdlib.MergeFunc,
	"tobool":   stdlib.MakeToFunc(cty.Bool),
	"tonumber": stdlib.MakeToFunc(cty.Number),
	"tostring": stdlib.MakeToFunc(cty.String),
	"try":      tryfunc.TryFunc,
	"upper":    stdlib.UpperFunc,
}

// coalesce is Terraform's coalesce: the first argument that is neither
// null nor an empty string. Unlike cty's it skips empty strings, and it
// does not convert the result to a type common to all arguments.
var coalesce = function.New(&function.Spec{
	VarParam: &function.Parameter{Name: "vals", Type: cty.DynamicPseudoType,
		AllowNull: true, AllowUnknown: true, AllowDynamicType: true},
	Type: function.StaticReturnType(cty.DynamicPseudoType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		for _, a := range args {
			switch {
			case !a.IsKnown():
				return cty.DynamicVal, nil
			case a.IsNull(), a.Type() == cty.String && a.AsString() == "":
				continue
			}
			return a, nil
		}
		return cty.NilVal, errors.New("no non-null, non-empty-string arguments")
	},
})
