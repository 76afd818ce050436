//go:build plan9

package nospace

// errnos is empty on plan9, whose errors are strings that name no common
// disk-full condition: a full disk there is an ordinary error.
var errnos []error
