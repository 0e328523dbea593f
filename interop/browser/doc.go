// Package browser holds the end-to-end browser tests of `cometgen new`:
// each scaffolds an archetype, builds and starts it, and drives its web page
// in Debian's Chromium with npm playwright-core — chat.mjs: two users chat
// (the chat archetype, npm install by cometgen new included); blank.mjs:
// two pages greet (the blank archetype); auction.mjs: two pages bid against
// the project's bot on the typed Go client (the auction archetype, and
// examples/auction). Screenshots of every page are kept as test artifacts.
// Others drive cometgen's own pages: docs.mjs the contract page of
// `cometgen docs`, admin.mjs the admin page of `cometgen serve
// --debug-addr`, and prometheus.mjs Prometheus' graph page, in
// TestRefusalInPrometheusAndAdminPage, which has a real Prometheus scrape
// `cometgen serve` and runs the Grafana dashboard's queries
// (docs/observability.md). TestDashboardRefusalQueries, without a
// browser, has promtool evaluate the dashboard's refusal queries on
// series written out sample by sample.
//
// It needs /usr/bin/chromium (apt-get install chromium), Node.js and the
// interop suite's npm packages (npm ci --prefix interop), and for
// TestRefusalInPrometheusAndAdminPage prometheus and promtool (apt-get
// install prometheus; TestDashboardRefusalQueries runs promtool only).
// Without them the tests skip, except in CI (CI=true), where they fail.
// -update writes the screenshots of docs/.
//
//	go test ./interop/browser -artifacts -outputdir /tmp/out   # keeps the screenshots there too
//
// The screenshots are also copied to interop/browser/artifacts/ (ignored by
// git).
package browser
