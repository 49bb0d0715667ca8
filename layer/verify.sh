#!/usr/bin/env bash
# Checks a built layer (CI runs it after layer/build.sh): its checksum matches; the zip holds an
# executable extensions/datadog-agent and an executable datadog_wrapper at its root; the binary needs no glibc newer than Amazon Linux 2's
# 2.26, carries nothing of the test kit, and stays within the size budget.
set -euo pipefail
cd "$(dirname "$0")/dist"
arch="${1:-x86_64}"
zip="tandem-$arch.zip"
sha256sum -c "$zip.sha256"
python3 - "$zip" <<'PY'
import re, stat, sys, zipfile
BUDGET = 6_000_000  # bytes, stripped
name = "extensions/datadog-agent"
with zipfile.ZipFile(sys.argv[1]) as z:
    if name not in z.namelist():
        sys.exit(f"{sys.argv[1]} lacks {name}")
    info = z.getinfo(name)
    if not (info.external_attr >> 16) & stat.S_IXUSR:
        sys.exit(f"{name} is not executable")
    data = z.read(name)
    # /opt/datadog_wrapper: Datadog's install guides point AWS_LAMBDA_EXEC_WRAPPER at it.
    if "datadog_wrapper" not in z.namelist():
        sys.exit(f"{sys.argv[1]} lacks datadog_wrapper at its root")
    wrapper = z.getinfo("datadog_wrapper")
    if not (wrapper.external_attr >> 16) & stat.S_IXUSR:
        sys.exit("datadog_wrapper is not executable")
    if not z.read("datadog_wrapper").startswith(b"#!/bin/sh\n"):
        sys.exit("datadog_wrapper is not a /bin/sh script")
    print("datadog_wrapper: present, executable")
# Version requirements of the dynamic symbols: GLIBC_x.y strings in .gnu.version_r.
found = {tuple(int(p) for p in m.group(1).split(b".")) for m in re.finditer(rb"GLIBC_(\d+(?:\.\d+)+)", data)}
highest = max(found) if found else (0,)
print("highest GLIBC_ requirement:", ".".join(map(str, highest)))
if highest > (2, 26):
    sys.exit("needs a glibc newer than Amazon Linux 2's 2.26")
# The test kit (simulator, capture intake) is its own crate and must never be linked in.
for needle in (b"tandem_testkit", b"tests/testkit/", b"capture intake", b"simulator"):
    if needle in data:
        sys.exit(f"the extension binary contains {needle.decode()!r}: test kit code was linked in")
print(f"binary size: {len(data):,} bytes (budget {BUDGET:,})")
if len(data) > BUDGET:
    sys.exit("the extension binary is over its size budget")
PY
echo "ok: $zip"
