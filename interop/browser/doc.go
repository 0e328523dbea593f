// Package browser holds the end-to-end browser test of `cometgen new`: it
// scaffolds the chat archetype, builds and starts it, and drives its web
// page in Debian's Chromium with npm playwright-core (chat.mjs): two pages
// chat, and screenshots of both are kept as test artifacts.
//
// It needs /usr/bin/chromium (apt-get install chromium), Node.js and the
// interop suite's npm packages (npm ci --prefix interop). Without them the
// test skips, except in CI (CI=true), where it fails.
//
//	go test ./interop/browser -artifacts -outputdir /tmp/out   # keeps the screenshots there too
//
// The screenshots are also copied to interop/browser/artifacts/ (ignored by
// git).
package browser
