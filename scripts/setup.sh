#!/usr/bin/env bash
# Every set-up step for a fresh Debian or Raspberry Pi OS machine: apt packages that are missing,
# then uv (from PyPI, into .tools/) and the project's .venv from uv.lock. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv          # the interpreter uv builds .venv on (Python >= 3.11)
  libzbar0                      # pyzbar, the fallback QR decoder
  fonts-wqy-microhei            # CJK glyphs for the kiosk's Chinese text
  libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libfontconfig1 libdbus-1-3  # Qt 6
  libpulse0                     # the kiosk's sounds through QtMultimedia
  systemd                       # systemd-analyze verifies the unit files in the tests
  openssl ca-certificates
  espeak-ng alsa-utils          # spoken prompts generated offline; aplay when QtMultimedia has no audio server
  postgresql                    # the hub at scale; the tests start a throwaway cluster
  chromium chromium-driver      # the operator pages' browser tests
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing apt packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

UV=$(command -v uv || true)
if [ -z "$UV" ]; then
  if [ ! -x .tools/bin/uv ]; then
    echo "setup: installing uv into .tools/" >&2
    python3 -m venv .tools
    .tools/bin/pip install -q uv
  fi
  UV=.tools/bin/uv
fi

# Never let uv fetch its own Python build: only the package registry is reachable on site networks.
export UV_PYTHON_DOWNLOADS=never
"$UV" sync --locked --python python3 -q
