#!/usr/bin/env bash
# Sets up everything uav_mec_nodes needs, inside the repository, idempotently:
#   1. a virtual environment in .venv (from the machine's python3);
#   2. the pinned dependencies (requirements.txt, constrained by requirements.lock),
#      skipped while the stamp .venv/.uav_mec_requirements matches their hash;
#   3. the ROS 2 wheels' CMake files pointed at this environment's Python;
#   4. px4_msgs/ (PX4's messages, for the PX4 bridge) and msg/ built with rosidl (CMake, in
#      build/) and installed, together with the Python package, launch/ and config/, into .venv.
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

# build_package NAME SRC BUILD: configure (once, or when the prefix changed), build and install one CMake package
build_package() {
  local name="$1" src="$2" dir="$3"
  if [ ! -f "$dir/CMakeCache.txt" ] || ! grep -q "CMAKE_INSTALL_PREFIX:PATH=$venv\$" "$dir/CMakeCache.txt"; then
    log "configuring the build of $name in $dir"
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    cmake -S "$src" -B "$dir" -DCMAKE_INSTALL_PREFIX="$venv" -DCMAKE_PREFIX_PATH="$venv" \
      -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release \
      > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
  fi
  cmake --build "$dir" -j "$(nproc)" > "$dir/build.log" 2>&1 || { cat "$dir/build.log"; exit 1; }
  cmake --install "$dir" > "$dir/install.log" 2>&1 || { cat "$dir/install.log"; exit 1; }
}

# Python modules the source no longer has (moved or removed) would linger in the installed copy and
# still import: remove them (rosidl's generated msg/ and libraries stay)
installed="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/uav_mec_nodes"
if [ -d "$installed" ]; then
  (cd "$installed" && find . -name '*.py' -not -path './msg/*' | while read -r f; do
     [ -e "$root/uav_mec_nodes/$f" ] || rm -f "$f"; done)
fi

build_package px4_msgs "$root/px4_msgs" "$root/build-px4_msgs"
build_package uav_mec_nodes "$root" "$build"
compiled=$(cat "$root/build-px4_msgs/build.log" "$build/build.log" | grep -c 'Building C' || true)
copied=$(cat "$root/build-px4_msgs/install.log" "$build/install.log" | grep -c '^-- Installing' || true)
log "messages and package: $compiled object(s) compiled, $copied file(s) installed into $venv"

# numba compiles the model's kernels on first use and caches them beside the installed modules: do it
# here, once per version of those modules (-P: the installed ones, not the source tree's), rather than in
# the first run, test or node processes
kernels=("$installed"/model/*_kernels.py)   # slot.load_kernels compiles each
kernels_stamp="$venv/.uav_mec_kernels"
kernels_hash="$(sha256sum "${kernels[@]}" | cut -d' ' -f1 | tr '\n' ' ') $(stat -c %Y "${kernels[@]}" | tr '\n' ' ')"
if [ "$(cat "$kernels_stamp" 2>/dev/null)" != "$kernels_hash" ]; then
  start=$SECONDS
  "$venv/bin/python" -P -c 'from uav_mec_nodes.model.slot import load_kernels; load_kernels()'
  echo "$kernels_hash" > "$kernels_stamp"
  log "model kernels compiled into numba's cache ($((SECONDS - start)) s)"
else
  log "model kernels: compiled (stamp $kernels_stamp)"
fi
