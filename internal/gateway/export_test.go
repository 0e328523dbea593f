package gateway

// TokenProblem exposes tokenProblem to the tests.
var TokenProblem = tokenProblem
