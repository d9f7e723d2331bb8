#!/usr/bin/env bash
# make release: what an air-gapped site downloads, with checksums and a signature.
#   dist/release-<version>/
#     appliance-<version>-<os>-<arch>.tar.gz   the onedir bundle (primary)
#     appliance-<version>-<os>-<arch>          the onefile executable
#     appliance-reader-<version>.tar.gz        the passage reader, which the executables
#                                              leave out (when `make reader-model` built it)
#     wheelhouse/                              appliance-<version>.tar.gz (the source, with
#                                              the built models inside the package) and every
#                                              wheel `pip install --no-index` needs
#     SHA256SUMS, SHA256SUMS.sig               checked by `appliance release verify`
# Signed with $RELEASE_KEY (default release-key/release_signing_key.pem; a development key is
# created there if missing: a real vendor keeps its key elsewhere). Checks at the end that the
# folder verifies and that the wheelhouse installs with no index in a fresh venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
KEY=${RELEASE_KEY:-release-key/release_signing_key.pem}
started=$(date +%s)
step() { echo "[release $(( $(date +%s) - started ))s] $*"; }

[ -e models/minilm-l6-v2/model.int8.onnx ] || { echo "run 'make models' first" >&2; exit 1; }
version=$("$PY" -c "import appliance; print(appliance.__version__)")
os=$(uname -s | tr '[:upper:]' '[:lower:]'); arch=$(uname -m)
name="appliance-$version-$os-$arch"
out="dist/release-$version"
rm -rf "$out" && mkdir -p "$out/wheelhouse"

if [ ! -e "$KEY" ]; then
  step "no signing key at $KEY: creating a DEVELOPMENT key there (not for publishing)"
  "$PY" -m appliance release keygen --out "$(dirname "$KEY")"
fi

step "executables (onedir and onefile, from a clean venv)"
packaging/build.sh all
cp "dist/$name.tar.gz" "dist/$name" "$out/"

# The executables leave the passage reader out (113 MB); a site that wants the reranking
# stage unpacks this archive anywhere and sets reader_dir (README "One executable").
reader=models/all-mpnet-base-v2
if [ -e "$reader/model.int8.onnx" ]; then
  step "the passage reader's archive"
  tar -czf "$out/appliance-reader-$version.tar.gz" -C models \
    all-mpnet-base-v2/model.int8.onnx all-mpnet-base-v2/tokenizer.json \
    all-mpnet-base-v2/manifest.json all-mpnet-base-v2/MODEL_CARD.md
else
  step "no passage reader built (make reader-model): the release has no reader archive"
fi

step "source distribution with the built models"
stage=build/release-src
rm -rf "$stage" && mkdir -p "$stage"
git ls-files -z | xargs -0 tar -cf - | tar -xf - -C "$stage"  # the tracked files, as checked out
models="$stage/appliance/resources/models"
for f in models/*/model.int8.onnx models/*/tokenizer.json models/*/manifest.json \
         models/*/MODEL_CARD.md models/README.md; do
  mkdir -p "$models/$(dirname "${f#models/}")"
  cp "$f" "$models/${f#models/}"
done
# Asked of pip, not of `import build`: run from the repo root that finds this repo's build/
# folder (a namespace package), skipped the install, and `python -m build` then failed.
"$PY" -m pip show --quiet build >/dev/null 2>&1 || "$PY" -m pip install --quiet "build>=1.2"
"$PY" -m build --sdist --outdir "$out/wheelhouse" "$stage" > build/release-sdist.log

step "dependency wheels and the build backend"
"$PY" -m pip download --quiet --dest "$out/wheelhouse" --only-binary=:all: \
  "setuptools>=69" wheel
"$PY" -m pip download --quiet --dest "$out/wheelhouse" --prefer-binary \
  "$out/wheelhouse/appliance-$version.tar.gz"

step "SHA256SUMS and its signature"
"$PY" -m appliance release sign "$out" --private-key "$KEY"
"$PY" -m appliance release verify "$out" \
  --public-key "$(dirname "$KEY")/release_public_key.txt" > /dev/null

step "offline install check: fresh venv, no index, no pip configuration"
check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT
env -i PATH="/usr/bin:/bin" HOME="$check" PIP_CONFIG_FILE=/dev/null \
  "${PYTHON:-python3}" -m venv "$check/venv"
env -i PATH="/usr/bin:/bin" HOME="$check" PIP_CONFIG_FILE=/dev/null \
  "$check/venv/bin/pip" install --quiet --no-index --find-links "$out/wheelhouse" appliance
env -i PATH="/usr/bin:/bin" HOME="$check" "$check/venv/bin/appliance" init \
  --data-dir "$check/data" --json > /dev/null
env -i PATH="/usr/bin:/bin" HOME="$check" "$check/venv/bin/python" -c \
  "from appliance.nlp.paths import ModelPaths; p = ModelPaths.locate(); \
   assert (p.embedder / 'model.int8.onnx').is_file() and (p.sentiment / 'model.int8.onnx').is_file(), p"

step "done: $out"
du -sh "$out"/* "$out/wheelhouse" | sed 's/^/  /'
