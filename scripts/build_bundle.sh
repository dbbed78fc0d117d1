#!/usr/bin/env bash
# Builds the PyInstaller one-folder bundle (packaging/robocoach.spec) into a cache outside the clone, and
# skips the build when nothing that goes into the bundle changed. Prints the bundle's folder as the last
# line of stdout (progress goes to stderr). Used by the release test (tests/release) and by hand:
#
#   scripts/build_bundle.sh            # -> ~/.cache/robocoach/bundle/dist/robocoach
#   ROBOCOACH_BUILD_CACHE=/tmp/b scripts/build_bundle.sh
#
# The cache is outside the clone, so fresh clones on the same machine (CI) reuse the work dir and, when the
# inputs are identical, the finished bundle itself. PyInstaller reads a snapshot of the inputs copied into
# the cache (src/), never the working tree: an edit made during the build (or ui/dist rebuilt) cannot end
# up half in the bundle, and the stamp is the hash of exactly what was built.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

cache="${ROBOCOACH_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/robocoach/bundle}"
mkdir -p "$cache"
bundle="$cache/dist/robocoach"

# One build at a time per cache (two test sessions, or a developer and CI, on one machine).
exec 9>"$cache/.lock"
flock 9

# ui/dist is bundled as data: build it first when missing or older than its sources (scripts/setup.sh's rule).
if [ ! -f ui/dist/index.html ] || [ -n "$(find ui/src ui/index.html ui/package.json ui/vite.config.ts ui/public \
    -newer ui/dist/index.html -print -quit 2>/dev/null)" ]; then
  say "building the UI"
  (cd ui && npm run --silent build) >&2
fi

# Everything that goes into the bundle, relative to a tree's root: the locked dependencies, the spec and
# what it names (icons, the .desktop entry), and every folder the spec collects from.
list_inputs() {
  (cd "$1" && find uv.lock pyproject.toml server desktop scenes ui/dist packaging -type f \
    -not -path '*/__pycache__/*' -not -name '*.pyc' \
    -not -path 'packaging/build/*' -not -path 'packaging/dist/*' -not -name 'README.md' -not -path 'scenes/pack/*' \
    -print0 | LC_ALL=C sort -z)
}
inputs_hash() {
  {
    .venv/bin/python -c 'import sys, PyInstaller; print(sys.version, PyInstaller.__version__)'
    sha256sum scripts/build_bundle.sh | cut -d' ' -f1
    (cd "$1" && list_inputs . | xargs -0 sha256sum)
  } | sha256sum | cut -d' ' -f1
}

stamp="$cache/inputs.sha256"
if [ -x "$bundle/robocoach" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(inputs_hash "$repo")" ]; then
  say "bundle up to date: $bundle ($(du -sh "$bundle" | cut -f1)); nothing that goes into it changed"
  echo "$bundle"
  exit 0
fi

rm -f "$stamp"  # a build that fails half-way must never pass for a good one
rm -rf "$cache/src" && mkdir -p "$cache/src"
list_inputs "$repo" | tar -C "$repo" --null -T - -cf - | tar -C "$cache/src" -xf -
built="$(inputs_hash "$cache/src")"

# The scene pack (pre-exported classic scenes, so the first launch shows a scene at once): made by
# server/scenes/pack.py, kept in the cache per scene cache key (MuJoCo, Playground, asset wheel versions).
# ROBOCOACH_TEST_SCENE_CACHE, when set, lends the scenes it already holds.
key="$(cd "$cache/src" && PYTHONPATH="$cache/src" "$repo/.venv/bin/python" -c \
  'from server.scenes.registry import cache_key; print(cache_key())')"
if [ ! -f "$cache/scene-packs/$key/catalog.json" ]; then
  say "exporting the scene pack ($key)"
  (cd "$cache/src" && PYTHONPATH="$cache/src" "$repo/.venv/bin/python" -m server.scenes.pack "$cache/scene-packs" \
    ${ROBOCOACH_TEST_SCENE_CACHE:+--cache "$ROBOCOACH_TEST_SCENE_CACHE"}) >&2
fi
mkdir -p "$cache/src/scenes/pack" && cp -a "$cache/scene-packs/$key" "$cache/src/scenes/pack/"

say "building the bundle (work dir $cache/work)"
started=$(date +%s)
# PYTHONPATH: the snapshot's `server` and `desktop`, not the editable install's (which is this clone).
(cd "$cache/src" && PYTHONPATH="$cache/src" "$repo/.venv/bin/pyinstaller" --noconfirm --log-level WARN \
  --distpath "$cache/dist" --workpath "$cache/work" packaging/robocoach.spec) >&2
elapsed=$(($(date +%s) - started))
echo "$built" > "$stamp"
say "built in ${elapsed} s: $bundle is $(du -sh "$bundle" | cut -f1) ($(find "$bundle" -type f | wc -l) files)"
echo "$bundle"
