#!/usr/bin/env bash
# Builds the release binary and packages it as a Lambda layer: layer/dist/tandem-<arch>.zip
# holding extensions/datadog-agent (the path Datadog's libraries look for), plus a SHA-256.
set -euo pipefail
cd "$(dirname "$0")/.."
arch="$(uname -m)"; [ "$arch" = "aarch64" ] && arch=arm64
cargo build --release --locked
mkdir -p layer/dist
python3 - "$arch" <<'PY'
import os, stat, sys, zipfile
arch = sys.argv[1]
out = f"layer/dist/tandem-{arch}.zip"
info = zipfile.ZipInfo("extensions/datadog-agent")
info.external_attr = (stat.S_IFREG | 0o755) << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open("target/release/tandem", "rb") as f, zipfile.ZipFile(out, "w") as z:
    z.writestr(info, f.read())
print(out)
PY
sha256sum "layer/dist/tandem-$arch.zip" > "layer/dist/tandem-$arch.zip.sha256"
cat "layer/dist/tandem-$arch.zip.sha256"
