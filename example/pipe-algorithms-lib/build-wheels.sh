#!/usr/bin/env bash
# Builds the releases of the stand-in private package pipe-algorithms-lib (1.0.0 and 1.1.0) as
# wheels into example/private-index/, the flat directory that stands in for the private index.
#
# Needs uv (https://docs.astral.sh/uv/; `pip install uv` or `pipx install uv`). uv builds this
# uv_build project itself, offline: no network and no build backend download. Set UV=/path/to/uv
# to use a uv that is not on PATH.
#
# The wheels are reproducible: the same uv version and sources give byte-identical files (uv_build
# stores fixed timestamps; SOURCE_DATE_EPOCH is set too, for backends that read it). The wheels
# name the uv that built them (WHEEL: Generator), so another uv version gives other bytes.
#
# Usage: example/pipe-algorithms-lib/build-wheels.sh [VERSION...]   (default: 1.0.0 1.1.0)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(cd "$here/.." && pwd)/private-index"
uv="${UV:-uv}"

if ! command -v "$uv" >/dev/null 2>&1; then
  echo "build-wheels.sh needs uv to build the wheels: install it with \`pip install uv\` (or \`pipx install uv\`), or set UV to its path" >&2
  exit 1
fi

versions=("$@")
if [ "${#versions[@]}" -eq 0 ]; then
  versions=(1.0.0 1.1.0)
fi

# 2024-01-01T00:00:00Z: any fixed time after 1980 (the earliest a zip file can hold) will do.
export SOURCE_DATE_EPOCH=1704067200
# The same bytes whoever builds: no user config, no umask-dependent modes.
export UV_NO_CONFIG=1
umask 022

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$out"
for version in "${versions[@]}"; do
  if ! [[ "$version" =~ ^[0-9]+(\.[0-9]+)*$ ]]; then
    echo "build-wheels.sh: not a final release version: $version" >&2
    exit 1
  fi
  project="$work/pipe-algorithms-lib-$version"
  mkdir -p "$project"
  cp -R "$here/src" "$project/src"
  find "$project" -name '__pycache__' -prune -exec rm -rf {} +
  sed -e "s/^version = \"0\.0\.0\"\$/version = \"$version\"/" "$here/pyproject.toml" >"$project/pyproject.toml"
  if ! grep -q "^version = \"$version\"\$" "$project/pyproject.toml"; then
    echo "build-wheels.sh: could not set the version in pyproject.toml (expected a line version = \"0.0.0\")" >&2
    exit 1
  fi
  rm -f "$out/pipe_algorithms_lib-$version-"*.whl
  "$uv" build --offline --wheel --out-dir "$work/dist-$version" "$project"
  cp "$work/dist-$version/"*.whl "$out/"
done

echo "built into $out:"
(cd "$out" && ls -1 pipe_algorithms_lib-*.whl && sha256sum pipe_algorithms_lib-*.whl)
