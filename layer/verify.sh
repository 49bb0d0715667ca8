#!/usr/bin/env bash
# Checks a built layer (CI runs it after layer/build.sh): the zip holds an executable
# extensions/datadog-agent, its checksum matches, and the binary needs no glibc newer than
# Amazon Linux 2's 2.26.
set -euo pipefail
cd "$(dirname "$0")/dist"
arch="${1:-x86_64}"
zip="tandem-$arch.zip"
sha256sum -c "$zip.sha256"
# The listing is read whole first: `unzip | grep -q` under pipefail fails when grep stops early.
listing="$(unzip -l "$zip")"
grep -q ' extensions/datadog-agent$' <<<"$listing" || { echo "$zip lacks extensions/datadog-agent" >&2; exit 1; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
unzip -q "$zip" -d "$tmp"
[ -x "$tmp/extensions/datadog-agent" ] || { echo "extensions/datadog-agent is not executable" >&2; exit 1; }
max="$(python3 - "$tmp/extensions/datadog-agent" <<'PY'
import re, sys
# Version requirements of the dynamic symbols: GLIBC_x.y strings in .gnu.version_r.
data = open(sys.argv[1], "rb").read()
found = {tuple(int(p) for p in m.group(1).split(b".")) for m in re.finditer(rb"GLIBC_(\d+(?:\.\d+)+)", data)}
print(".".join(map(str, max(found))) if found else "none")
PY
)"
echo "highest GLIBC_ requirement: $max"
python3 -c "import sys; v=tuple(map(int,'$max'.split('.'))) if '$max'!='none' else (0,); sys.exit(0 if v <= (2,26) else 1)" \
  || { echo "needs glibc $max, newer than Amazon Linux 2's 2.26" >&2; exit 1; }
echo "ok: $zip"
