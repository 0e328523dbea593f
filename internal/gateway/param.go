package gateway

import (
	"fmt"
	"regexp"
	"slices"
	"unicode/utf8"

	"github.com/cometgen/cometgen/schema"
)

// paramCheck checks a channel parameter's value.
type paramCheck struct {
	p  *schema.Param
	re *regexp.Regexp
}

func newParamCheck(p *schema.Param) *paramCheck {
	c := &paramCheck{p: p}
	if p.Pattern != "" {
		// The loader compiled it already; a failure here is a loader bug.
		c.re = regexp.MustCompile(p.Pattern)
	}
	return c
}

// check returns why value is not a valid value of the parameter, or "".
func (c *paramCheck) check(value string) string {
	n := utf8.RuneCountInString(value)
	switch {
	case c.p.MinLength > 0 && n < c.p.MinLength:
		return fmt.Sprintf("%s %q is shorter than %d characters", c.p.Name, value, c.p.MinLength)
	case c.p.MaxLength > 0 && n > c.p.MaxLength:
		return fmt.Sprintf("%s %q is longer than %d characters", c.p.Name, value, c.p.MaxLength)
	case len(c.p.Enum) > 0 && !slices.Contains(c.p.Enum, value):
		return fmt.Sprintf("%s %q is not one of the allowed values", c.p.Name, value)
	case c.re != nil && !c.re.MatchString(value):
		// The pattern itself is not repeated: a regex does not survive the
		// "code:args:message" form (commas separate the args).
		return fmt.Sprintf("%s %q does not match its pattern", c.p.Name, value)
	}
	return ""
}
