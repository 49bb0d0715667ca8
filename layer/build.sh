#!/usr/bin/env bash
# Builds the release binary against an old glibc baseline (2.17, so it runs on every Lambda
# runtime including Amazon Linux 2's glibc 2.26) with cargo-zigbuild, and packages it as a
# Lambda layer: layer/dist/tandem-<arch>.zip holding extensions/datadog-agent (the path
# Datadog's libraries look for, with the run bit) and datadog_wrapper (/opt/datadog_wrapper, for
# AWS_LAMBDA_EXEC_WRAPPER), plus a SHA-256 file.
#
#   bash layer/build.sh            # this machine's architecture
#   bash layer/build.sh arm64      # needs `rustup target add aarch64-unknown-linux-gnu`
set -euo pipefail
cd "$(dirname "$0")/.."

arch="${1:-$(uname -m)}"
case "$arch" in
  x86_64|amd64) arch=x86_64; triple=x86_64-unknown-linux-gnu ;;
  arm64|aarch64) arch=arm64; triple=aarch64-unknown-linux-gnu ;;
  *) echo "unknown architecture '$arch': expected x86_64 or arm64" >&2; exit 2 ;;
esac

# cargo-zigbuild and the zig toolchain both come from PyPI, pinned in layer/requirements.txt.
if ! command -v cargo-zigbuild >/dev/null 2>&1 || ! python3 -c 'import ziglang' 2>/dev/null; then
  python3 -m pip install -q --disable-pip-version-check -r layer/requirements.txt
fi
if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
  echo "the Rust target $triple is not installed: rustup target add $triple" >&2
  exit 2
fi

cargo zigbuild --release --locked -p tandem-extension --bin tandem --target "$triple.2.17"
bin="target/$triple/release/tandem"

mkdir -p layer/dist
out="layer/dist/tandem-$arch.zip"
python3 - "$bin" layer/datadog_wrapper "$out" <<'PY'
import stat, sys, zipfile
binary, wrapper, out = sys.argv[1], sys.argv[2], sys.argv[3]
with zipfile.ZipFile(out, "w") as z:
    # The extension, and at the zip's root the wrapper Lambda places at /opt/datadog_wrapper.
    for name, src in (("extensions/datadog-agent", binary), ("datadog_wrapper", wrapper)):
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(src, "rb") as f:
            z.writestr(info, f.read())
PY
(cd layer/dist && sha256sum "tandem-$arch.zip" > "tandem-$arch.zip.sha256")
echo "$out"
cat "layer/dist/tandem-$arch.zip.sha256"
