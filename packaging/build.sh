#!/usr/bin/env bash
# Build the appliance executables from a clean virtual environment.
#   packaging/build.sh [onedir|onefile|all]     (default: all)
# Outputs in dist/: appliance-<version>-<os>-<arch>.tar.gz (onedir, the primary artifact)
# and appliance-<version>-<os>-<arch> (onefile, the quick demo).
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
PYTHON="${PYTHON:-python3}"
venv=build/venv-binary
if [ ! -x "$venv/bin/python" ] || [ pyproject.toml -nt "$venv/.installed" ]; then
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  # Runtime dependencies only (no dev or build extras): what the bundle needs, nothing more.
  "$venv/bin/python" -m pip install --quiet . "pyinstaller>=6.10,<7"
  touch "$venv/.installed"
fi
# The project itself is reinstalled on every build: PyInstaller collects the package (its
# migrations and resources) from the venv, which must match the working tree.
"$venv/bin/python" -m pip install --quiet --no-deps --force-reinstall --no-cache-dir .
for required in models/minilm-l6-v2/model.int8.onnx; do
  [ -e "$required" ] || { echo "missing $required: run 'make models' first" >&2; exit 1; }
done
version=$("$venv/bin/python" -c "import appliance; print(appliance.__version__)")
os=$(uname -s | tr '[:upper:]' '[:lower:]'); arch=$(uname -m)
name="appliance-$version-$os-$arch"
mkdir -p dist
if [ "$what" = onedir ] || [ "$what" = all ]; then
  "$venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath build/onedir --workpath build/work-onedir packaging/appliance.spec
  rm -rf "build/onedir/$name" && mv build/onedir/appliance "build/onedir/$name"
  tar -C build/onedir -czf "dist/$name.tar.gz" "$name"
  echo "built dist/$name.tar.gz ($(du -h "dist/$name.tar.gz" | cut -f1))"
fi
if [ "$what" = onefile ] || [ "$what" = all ]; then
  APPLIANCE_ONEFILE=1 "$venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath build/onefile --workpath build/work-onefile packaging/appliance.spec
  cp build/onefile/appliance "dist/$name"
  echo "built dist/$name ($(du -h "dist/$name" | cut -f1))"
fi
