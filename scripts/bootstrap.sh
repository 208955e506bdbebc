#!/usr/bin/env bash
# Sets up everything uav_mec_nodes needs, inside the repository, idempotently:
#   1. a virtual environment in .venv (from the machine's python3);
#   2. the pinned dependencies (requirements.txt, constrained by requirements.lock),
#      skipped while the stamp .venv/.uav_mec_requirements matches their hash;
#   3. the ROS 2 wheels' CMake files pointed at this environment's Python;
#   4. msg/ built with rosidl (CMake, in build/) and installed, together with the
#      Python package, launch/ and config/, into the .venv prefix.
# A second run does no reinstall and takes seconds. Set UAV_MEC_VENV to use
# another environment folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${UAV_MEC_VENV:-$root/.venv}"
build="$root/build"
python="${PYTHON:-python3}"
log() { printf '[bootstrap] %s\n' "$*"; }

if [ ! -x "$venv/bin/python" ]; then
  log "creating virtual environment $venv"
  "$python" -m venv "$venv"
fi

stamp="$venv/.uav_mec_requirements"
want="$(cat "$root/requirements.txt" "$root/requirements.lock" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  log "installing pinned dependencies (first run: about a minute)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$root/requirements.lock" -r "$root/requirements.txt"
  "$venv/bin/python" "$root/scripts/fix_ros_wheel_cmake.py" "$venv"
  echo "$want" > "$stamp"
else
  log "dependencies: up to date (stamp $stamp), pip skipped"
fi

export VIRTUAL_ENV="$venv"
export AMENT_PREFIX_PATH="$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export PATH="$venv/bin:$PATH"
if [ ! -f "$build/CMakeCache.txt" ] || ! grep -q "CMAKE_INSTALL_PREFIX:PATH=$venv\$" "$build/CMakeCache.txt"; then
  log "configuring the message build in $build"
  rm -rf "$build"
  cmake -S "$root" -B "$build" -DCMAKE_INSTALL_PREFIX="$venv" -DCMAKE_PREFIX_PATH="$venv" \
    -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release \
    > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
fi
cmake --build "$build" -j "$(nproc)" > "$build/build.log" 2>&1 || { cat "$build/build.log"; exit 1; }
cmake --install "$build" > "$build/install.log" 2>&1 || { cat "$build/install.log"; exit 1; }
compiled=$(grep -c 'Building C' "$build/build.log" || true)
copied=$(grep -c '^-- Installing' "$build/install.log" || true)
log "messages and package: $compiled object(s) compiled, $copied file(s) installed into $venv"
