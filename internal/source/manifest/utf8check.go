package manifest

import "unicode/utf8"

// utf8Check validates UTF-8 text that arrives in pieces which may split a
// character. It carries the bytes of an unfinished character to the next piece.
type utf8Check struct {
	carry []byte
}

// feed checks the next piece and reports whether the text is valid so far.
func (c *utf8Check) feed(p []byte) bool {
	for len(c.carry) > 0 && len(p) > 0 {
		c.carry = append(c.carry, p[0])
		p = p[1:]
		if utf8.FullRune(c.carry) {
			if r, _ := utf8.DecodeRune(c.carry); r == utf8.RuneError {
				return false
			}
			c.carry = c.carry[:0]
		}
	}
	tail := incompleteTail(p)
	if !utf8.Valid(p[:len(p)-tail]) {
		return false
	}
	c.carry = append(c.carry, p[len(p)-tail:]...)
	return true
}

// done reports whether the text ended on a character boundary.
func (c *utf8Check) done() bool {
	ok := len(c.carry) == 0
	c.carry = c.carry[:0]
	return ok
}

// incompleteTail returns how many bytes at the end of p start a character
// that p does not finish.
func incompleteTail(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(p[i]) {
			if utf8.FullRune(p[i:]) {
				return 0
			}
			return len(p) - i
		}
	}
	return 0
}
