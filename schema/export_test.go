package schema

// CheckFieldPath exports checkFieldPath to the external tests.
var CheckFieldPath = checkFieldPath
