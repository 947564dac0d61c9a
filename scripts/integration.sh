#!/usr/bin/env bash
# Runs the integration tests and prints which tests were skipped and why,
# because go test hides that for passing packages. The tests fetch the Kafka
# jars and start their broker themselves. Without Java or Maven they skip,
# unless CI is set, in which case they fail. The full -v log is
# integration/test.log.
set -euo pipefail
cd "$(dirname "$0")/../integration"

log=test.log
status=0
go test -count=1 -timeout 20m -v ./... >"$log" 2>&1 || status=$?

# go test -v prints a skip's reason on the line before its '--- SKIP' line.
grep -E -B1 -- '--- SKIP' "$log" | grep -v -- '^--$' || true
if [[ "$status" -ne 0 ]]; then
	grep -E -B2 -A30 -- '--- FAIL|^panic' "$log" | head -n 300 || true
fi
passed=$(grep -cE -- '^\s*--- PASS' "$log" || true)
failed=$(grep -cE -- '^\s*--- FAIL' "$log" || true)
skipped=$(grep -cE -- '^\s*--- SKIP' "$log" || true)
grep -E '^(ok|FAIL|\?)\s' "$log" || true
echo "integration: $passed passed, $failed failed, $skipped skipped"
exit "$status"
