#!/usr/bin/env bash
# Install Checkpoint as an appliance on Raspberry Pi OS (Bookworm or later) or Debian 12+.
#
#   sudo systemd/install.sh [--hub] [--gate|--kiosk] [--prefix DIR] [--no-apt] [--no-enable] [--skip-python]
#   systemd/install.sh --root DIR [--skip-python] [--hub] [--gate|--kiosk]   (stage into DIR; touches nothing else)
#
# --gate enables the screenless gate (checkpoint-gate.service) instead of the kiosk, --kiosk the kiosk
# instead of the gate; without either a device keeps the one it has (the kiosk on a first install).
#
# Idempotent: run it again after `git pull` to update. It creates the service users and directories
# (through sysusers.d/tmpfiles.d snippets, the systemd way), a virtualenv with --system-site-packages
# so apt's python3-picamera2 and libcamera are visible, installs the package, copies the example
# settings only if /etc/checkpoint/config.toml does not exist, installs the units and enables them.
#
# With --root DIR nothing outside DIR is touched: no apt, no useradd, no systemctl on the running
# system. The sysusers.d/tmpfiles.d snippets take effect when a system booted from DIR starts, and
# the units are enabled inside DIR with `systemctl --root`. --skip-python leaves out the virtualenv
# and the package (slow; the tests use it).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=""
PREFIX=/opt/checkpoint
APT=1
ENABLE=1
PYTHON=1
HUB=0
GATE=0
KIOSK=0
PYTHON_BIN=${PYTHON_BIN:-python3}

usage() {
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) PREFIX=${1#--prefix=}; shift ;;
    --no-apt) APT=0; shift ;;
    --no-enable) ENABLE=0; shift ;;
    --skip-python) PYTHON=0; shift ;;
    --hub) HUB=1; shift ;;
    --gate) GATE=1; shift ;;
    --kiosk) KIOSK=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install: unknown option $1" >&2; usage 2 >&2 ;;
  esac
done

log() { echo "install: $*" >&2; }
die() { echo "install: error: $*" >&2; exit 1; }

if [ "$GATE" -eq 1 ] && [ "$KIOSK" -eq 1 ]; then
  echo "install: --gate and --kiosk exclude each other: a device runs one of them" >&2
  exit 2
fi

case "$PREFIX" in /*) ;; *) die "--prefix must be an absolute path, got '$PREFIX'" ;; esac
if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" != "/" ] || die "--root / would install onto this system; leave --root out for that"
  STAGED=1
  APT=0
  log "staging into $ROOT (nothing outside it is changed)"
else
  STAGED=0
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo), or stage with --root DIR"
  if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    . /etc/os-release
    if [ "${VERSION_ID%%.*}" -lt 12 ] 2>/dev/null; then
      log "warning: ${PRETTY_NAME:-this system} is older than Debian 12 / Raspberry Pi OS Bookworm"
    fi
  fi
fi

UNITS=(checkpoint-kiosk.service checkpoint-gate.service checkpoint-sync.service checkpoint-hub.service)
SYSTEMCTL=(systemctl)
[ "$STAGED" -eq 1 ] && SYSTEMCTL=(systemctl --root="$ROOT")
# The device's role: the kiosk or the screenless gate, never both (their units conflict). An update
# without --gate or --kiosk keeps the role the device has.
if [ "$GATE" -eq 0 ] && [ "$KIOSK" -eq 0 ] && "${SYSTEMCTL[@]}" --quiet is-enabled checkpoint-gate.service 2>/dev/null; then
  GATE=1
fi
ROLE=checkpoint-kiosk.service OTHER=checkpoint-gate.service
[ "$GATE" -eq 1 ] && ROLE=checkpoint-gate.service OTHER=checkpoint-kiosk.service
ENABLED=("$ROLE" checkpoint-sync.service)
[ "$HUB" -eq 1 ] && ENABLED+=(checkpoint-hub.service)

# 1. System packages (never when staging).
if [ "$APT" -eq 1 ]; then
  packages=(python3 python3-venv python3-pip libzbar0 fonts-wqy-microhei
            libegl1 libgl1 libgbm1 libxkbcommon0 libfontconfig1 libdbus-1-3
            libpulse0 alsa-utils  # sound: QtMultimedia, else aplay
            espeak-ng)  # the spoken results ([sound] mode voice or both, the default)
  # Only on Raspberry Pi OS: the camera module's Python bindings and libcamera.
  if apt-cache show python3-picamera2 >/dev/null 2>&1; then packages+=(python3-picamera2); fi
  log "apt packages: ${packages[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}" >&2
fi

# 2. Users, groups, directories: sysusers.d and tmpfiles.d snippets.
install -d -m 0755 "$ROOT/etc/sysusers.d" "$ROOT/etc/tmpfiles.d" "$ROOT/etc/systemd/system"
install -m 0644 "$SRC/systemd/checkpoint.sysusers" "$ROOT/etc/sysusers.d/checkpoint.conf"
install -m 0644 "$SRC/systemd/checkpoint.tmpfiles" "$ROOT/etc/tmpfiles.d/checkpoint.conf"
if [ "$STAGED" -eq 0 ]; then
  systemd-sysusers /etc/sysusers.d/checkpoint.conf
  systemd-tmpfiles --create /etc/tmpfiles.d/checkpoint.conf
else
  # What tmpfiles would create at boot, with the modes it would set (owners follow at boot).
  install -d -m 0755 "$ROOT/etc/checkpoint"
  install -d -m 0750 "$ROOT/etc/checkpoint/device" "$ROOT/etc/checkpoint/hub" \
    "$ROOT/var/lib/checkpoint" "$ROOT/var/lib/checkpoint-hub"
fi

# 3. Settings: never overwrite what the operator wrote.
copy_once() {  # SRC DEST MODE [GROUP]
  if [ -e "$2" ]; then
    log "kept existing $2"
  else
    install -m "$3" "$1" "$2"
    if [ "$STAGED" -eq 0 ] && [ -n "${4:-}" ]; then chgrp "$4" "$2"; fi
    log "created $2"
  fi
}
copy_once "$SRC/config.example.toml" "$ROOT/etc/checkpoint/config.toml" 0640 checkpoint
copy_once "$SRC/systemd/kiosk.env" "$ROOT/etc/checkpoint/kiosk.env" 0644
copy_once "$SRC/systemd/hub.env" "$ROOT/etc/checkpoint/hub.env" 0644

# 4. The virtualenv and the package.
if [ "$PYTHON" -eq 1 ]; then
  VENV="$ROOT$PREFIX/.venv"
  install -d -m 0755 "$ROOT$PREFIX"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV (with system site packages, for python3-picamera2)"
    "$PYTHON_BIN" -m venv --system-site-packages "$VENV"
  fi
  pip_args=(--quiet --disable-pip-version-check --upgrade)
  if dpkg-query -W -f='${Status}' python3-picamera2 2>/dev/null | grep -q "install ok installed"; then
    # Keep numpy binary-compatible with apt's picamera2 (see the constraints file).
    pip_args+=(--constraint "$SRC/systemd/picamera2-constraints.txt")
  fi
  log "installing the checkpoint package from $SRC"
  "$VENV/bin/python" -m pip install "${pip_args[@]}" "$SRC" >&2
  "$VENV/bin/checkpoint" --help >/dev/null
  if [[ " ${pip_args[*]} " == *" --constraint "* ]] && ! "$VENV/bin/python" -c "import picamera2" 2>/dev/null; then
    log "warning: picamera2 does not import in $VENV; the camera module will not work (docs/deploy.md)"
  fi
else
  log "skipping the virtualenv and the package (--skip-python)"
fi

# 5. Units, with the install prefix filled in.
for unit in "${UNITS[@]}"; do
  tmp="$ROOT/etc/systemd/system/.$unit.tmp"
  sed "s|/opt/checkpoint/|$PREFIX/|g" "$SRC/systemd/$unit" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$ROOT/etc/systemd/system/$unit"
done
log "units in $ROOT/etc/systemd/system: ${UNITS[*]}"

# 6. Enable (and restart what was running, so an update takes effect).
if [ "$ENABLE" -eq 1 ]; then
  if "${SYSTEMCTL[@]}" --quiet is-enabled "$OTHER" 2>/dev/null; then
    [ "$STAGED" -eq 1 ] || systemctl stop "$OTHER"
    "${SYSTEMCTL[@]}" --quiet disable "$OTHER"
    log "disabled: $OTHER (this device runs $ROLE)"
  fi
  if [ "$STAGED" -eq 1 ]; then
    systemctl --root="$ROOT" --quiet enable "${ENABLED[@]}"
  else
    systemctl daemon-reload
    systemctl --quiet enable "${ENABLED[@]}"
    systemctl try-restart "${UNITS[@]}"
  fi
  log "enabled: ${ENABLED[*]}"
fi

if [ "$STAGED" -eq 0 ]; then
  log "done. Next: edit /etc/checkpoint/config.toml (checkpoint config check), set the admin PIN"
  log "(checkpoint config pin), enrol the device certificate, then: systemctl start ${ENABLED[*]}"
fi
