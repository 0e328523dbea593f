package runtime

// IsAtLeastVersion0_1_0 is referenced by code cometgen generates, so that
// generated code needing a newer runtime fails to compile, with this name in
// the error, instead of misbehaving. Newer runtimes keep every older
// constant and add their own.
const IsAtLeastVersion0_1_0 = true

// IsAtLeastVersion0_2_0 is referenced by the typed Go clients cometgen
// generates (package runtime/client/typed).
const IsAtLeastVersion0_2_0 = true
