package wire

import "errors"

// ErrIncomplete means the input does not hold a whole message head yet: read
// more and call again.
var ErrIncomplete = errors.New("wire: incomplete message head")
