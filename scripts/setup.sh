#!/usr/bin/env bash
# Installs what Robocoach needs, idempotently: `setup.sh app` for running it, `setup.sh test` for the tests.
# Sources: Debian packages (apt), PyPI (uv, from uv.lock), npm (package-lock.json). Nothing else is fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-app}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------------------------
# Qt WebEngine (the window) needs these X/GL libraries; the tests also need Chromium, Xvfb and xdotool, and
# binutils (objdump: PyInstaller and the bundle spec's pruning read shared libraries' dependencies with it).
APP_DEBS=(libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libnss3 libgl1-mesa-dri libegl1
  libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-shape0 libxcb-xinerama0 libdbus-1-3 libfontconfig1
  libxkbfile1 libasound2 libxcomposite1 libxdamage1 libxrandr2 libxtst6)
TEST_DEBS=(chromium xvfb xauth xdotool binutils)
# Policy clips (docs/CLIPS.md): MuJoCo renders them headless through EGL, Mesa's software renderer without a GPU.
RENDER_DEBS=(libegl1 libegl-mesa0 libgl1-mesa-dri)

ensure_debs() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      say "missing Debian packages (${missing[*]}) and no root/sudo to install them"; return 1
    fi
  fi
  say "apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- Python: uv from PyPI, then the locked environment ---------------------------------------------------
UV_VERSION=0.13.9
ensure_uv() {
  if [ -x .cache/uv/bin/uv ] && [ "$(.cache/uv/bin/uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
    return 0
  fi
  say "installing uv $UV_VERSION from PyPI"
  python3.11 -m venv .cache/uv 2>/dev/null || python3.11 -m venv --without-pip .cache/uv
  if [ ! -x .cache/uv/bin/pip ]; then
    # Debian's python3.11 lacks ensurepip without python3.11-venv; install it rather than fetch get-pip.
    ensure_debs python3.11-venv
    rm -rf .cache/uv && python3.11 -m venv .cache/uv
  fi
  .cache/uv/bin/pip install -q --disable-pip-version-check "uv==$UV_VERSION"
}

ensure_python_deps() {
  ensure_uv
  # Never let uv download a Python build from GitHub: use the machine's 3.11.
  export UV_PYTHON_DOWNLOADS=never
  local stamp=.venv/.robocoach-lock
  # The packaging group (PyInstaller) is for the release test, which builds the bundle (scripts/build_bundle.sh).
  if [ -f "$stamp" ] && cmp -s uv.lock "$stamp" && [ -x .venv/bin/python ] && [ -x .venv/bin/pyinstaller ]; then
    return 0
  fi
  say "installing Python dependencies from uv.lock"
  .cache/uv/bin/uv sync --frozen --python python3.11 --group packaging --quiet
  cp uv.lock "$stamp"
}

# --- UI: npm ci from package-lock.json, then vite build when sources changed ------------------------------
ensure_ui() {
  local stamp=ui/node_modules/.robocoach-lock
  if ! { [ -f "$stamp" ] && cmp -s ui/package-lock.json "$stamp"; }; then
    say "installing UI dependencies (npm ci)"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
    cp ui/package-lock.json "$stamp"
  fi
  if [ ! -f ui/dist/index.html ] || [ -n "$(find ui/src ui/index.html ui/package.json ui/vite.config.ts ui/public \
      -newer ui/dist/index.html -print -quit 2>/dev/null)" ]; then
    say "building the UI"
    (cd ui && npm run --silent build)
  fi
}

case "$mode" in
  app)
    # The window needs Qt's X libraries; without a display we serve to a browser and need none.
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then ensure_debs "${APP_DEBS[@]}" || true; fi
    ensure_debs "${RENDER_DEBS[@]}" || true  # without them policies train all the same, without clips
    ensure_python_deps
    ensure_ui
    ;;
  test)
    ensure_debs "${APP_DEBS[@]}" "${TEST_DEBS[@]}" "${RENDER_DEBS[@]}"
    ensure_python_deps
    ensure_ui
    ;;
  *) echo "usage: $0 app|test" >&2; exit 2 ;;
esac
