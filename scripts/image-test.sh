#!/usr/bin/env bash
# Builds the image (Dockerfile) with podman and checks it without starting a container, which
# needs no container engine or registry: the image is mounted (`podman image mount`) and its
# binary run in a chroot of it, as the image's user, in its working directory, with its
# environment: `--version` against the version label, every library found, no build tools, a
# start on its defaults (SQLite under /data) on a free port, /healthz 200, the HEALTHCHECK
# command, /readyz, /metrics, SIGTERM and exit 0.
#
# The base, debian:bookworm-slim, is the registry's when it is present or can be pulled, else
# one made here by mmdebstrap from the apt sources this machine uses (/etc/apt) and kept as
# localhost/tp-bookworm-slim:mmdebstrap for the next run (TP_IMAGE_NEW_BASE=1 makes it anew).
# podman keeps the build's layers, so a second run rebuilds only what changed.
#
# ctest `image` (label image); exit 77 (skipped) where podman is missing or not root.
# Usage: scripts/image-test.sh      (scripts/install-deps.sh installs podman and mmdebstrap)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

say() { echo "image-test: $*"; }
fail() { echo "image-test: FAIL: $*" >&2; exit 1; }

if ! command -v podman >/dev/null; then
  say "SKIP: podman is not installed (scripts/install-deps.sh installs it)"
  exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
  say "SKIP: needs root (podman image mount and chroot)"
  exit 77
fi

version="$(sed -n 's/^project(telemetry_processor VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
[ -n "$version" ] || fail "no version in CMakeLists.txt"
image="localhost/telemetry-processor:${version}"
local_base="localhost/tp-bookworm-slim:mmdebstrap"

inspect() { podman image inspect --format "$1" "$image"; }
read_config() {  # the image's configuration into shell variables
  label_version="$(inspect '{{index .Config.Labels "org.opencontainers.image.version"}}')"
  user="$(inspect '{{.Config.User}}')"
  workdir="$(inspect '{{.Config.WorkingDir}}')"
  entrypoint="$(inspect '{{range .Config.Entrypoint}}{{.}} {{end}}')"
  healthcheck="$(inspect '{{if .Config.Healthcheck}}{{range .Config.Healthcheck.Test}}{{.}} {{end}}{{end}}')"
  ports="$(inspect '{{range $p, $v := .Config.ExposedPorts}}{{$p}} {{end}}')"
  mapfile -t environment < <(inspect '{{range .Config.Env}}{{println .}}{{end}}' | sed '/^$/d')
  read -r -a healthcheck_command <<<"${healthcheck#CMD }"
}

# in_image [VAR=VALUE...] COMMAND...: execs COMMAND in the mounted image as its user, in its
# working directory, with its environment only (and VAR=VALUE); call it in a subshell or in the
# background, where its process becomes COMMAND.
in_image() {
  local extra=()
  while [[ "${1:-}" == *=* ]]; do extra+=("$1"); shift; done
  exec env -i "${environment[@]}" "${extra[@]}" chroot --userspec="$user" "$mnt" \
    /bin/sh -c 'cd "$0" && exec "$@"' "$workdir" "$@"
}

# --- Run in the mounted image (in a mount namespace of its own: its mounts end with it) ----

if [ "${1:-}" = --run-in ]; then
  mnt="$2"
  read_config
  scratch="$(mktemp -d)"
  pid=""
  trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$scratch"' EXIT
  # A writable /data (the image's stays as built), /tmp, /proc (process metrics) and /dev.
  mkdir -p "$scratch/data" "$scratch/tmp"
  chown "$user" "$scratch/data"
  chmod 1777 "$scratch/tmp"
  mount --bind "$scratch/data" "$mnt/data"
  mount --bind "$scratch/tmp" "$mnt/tmp"
  mount -t proc proc "$mnt/proc"
  mount --bind /dev "$mnt/dev"

  binary_version="$(in_image /usr/bin/telemetry-processor --version)"
  say "--version: $binary_version"
  [ "$binary_version" = "telemetry-processor $version" ] || fail "--version says '$binary_version'"

  # A start on the defaults (SQLite under the working directory) on a free port.
  log="$scratch/processor.log"
  in_image /usr/bin/telemetry-processor --httpPort=0 --http.listenAddress=127.0.0.1 >"$log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 300); do
    port="$(sed -n 's/.* listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)"
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "the processor exited at start"; }
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$log" >&2; fail "no 'listening on' in the start log"; }
  say "started on port $port: $(grep -o 'database: .*' "$log" | head -n 1)"

  get() {  # get PATH: the status code; the body in $scratch/body
    curl -s -o "$scratch/body" -w '%{http_code}' --max-time 10 "http://127.0.0.1:${port}$1"
  }
  status="$(get /healthz)"
  [ "$status" = 200 ] || fail "/healthz answered $status"
  say "/healthz: $status $(cat "$scratch/body")"

  (in_image TP_HTTPPORT="$port" "${healthcheck_command[@]}") ||
    fail "the HEALTHCHECK command failed against port $port"
  say "HEALTHCHECK ${healthcheck_command[*]} (TP_HTTPPORT=$port): exit 0"

  for _ in $(seq 1 100); do
    status="$(get /readyz)"
    [ "$status" = 200 ] && break
    sleep 0.1
  done
  [ "$status" = 200 ] || fail "/readyz answered $status"
  say "/readyz: $status $(cat "$scratch/body")"

  status="$(get /metrics)"
  [ "$status" = 200 ] || fail "/metrics answered $status"
  build_info="$(grep '^telemetry_processor_build_info' "$scratch/body" || true)"
  [ -n "$build_info" ] || fail "/metrics has no telemetry_processor_build_info"
  say "/metrics: $status, $(grep -c '^[a-z]' "$scratch/body") samples; $build_info"

  [ -f "$scratch/data/data/telemetry-processor.db" ] || fail "no SQLite file /data/data/telemetry-processor.db"
  [ -d "$scratch/data/data/queue" ] || fail "no queue directory /data/data/queue"
  say "under /data: $(cd "$scratch/data" && find . -mindepth 1 -maxdepth 2 | sort | tr '\n' ' ')"

  kill -TERM "$pid"
  code=0
  wait "$pid" || code=$?
  pid=""
  grep -q 'stopped' "$log" || { cat "$log" >&2; fail "no 'stopped' in the log"; }
  [ "$code" = 0 ] || { cat "$log" >&2; fail "exit code $code after SIGTERM"; }
  say "SIGTERM: exit $code"
  exit 0
fi


# --- The base image ------------------------------------------------------------------------

# The machine's Debian 12 apt sources as one deb822 file: the stanzas of /etc/apt/sources.list
# and sources.list.d (both formats) whose suites are bookworm's and components include main.
apt_sources() {
  python3 - <<'EOF'
import glob, re, sys
suites = {"bookworm", "bookworm-updates", "bookworm-security", "bookworm-backports"}
stanzas = []
def add(types, uris, dists, comps, signed_by):
    dists = [d for d in dists if d in suites]
    if "deb" in types and dists and "main" in comps:
        s = f"Types: deb\nURIs: {' '.join(uris)}\nSuites: {' '.join(dists)}\nComponents: {' '.join(comps)}\n"
        if signed_by:
            s += f"Signed-By: {signed_by}\n"
        stanzas.append(s)
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
for path in files:
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        continue
    for line in lines:
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^(deb)\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line)
        if not m:
            continue
        opts = dict(o.split("=", 1) for o in (m.group(2) or "").strip(" []\n").split() if "=" in o)
        add(["deb"], [m.group(3)], [m.group(4)], m.group(5).split(), opts.get("signed-by"))
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for block in re.split(r"\n\s*\n", open(path).read()):
        fields = {}
        for line in block.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if fields.get("enabled", ["yes"])[0].lower() == "no":
            continue
        add(fields.get("types", []), fields.get("uris", []), fields.get("suites", []),
            fields.get("components", []), " ".join(fields.get("signed-by", [])) or None)
if not stanzas:
    sys.exit("no Debian 12 (bookworm) main source in /etc/apt")
print("\n".join(stanzas), end="")
EOF
}

base=""
if podman image exists debian:bookworm-slim; then
  base="debian:bookworm-slim"
elif timeout 120 podman pull -q debian:bookworm-slim >/dev/null 2>&1; then
  base="debian:bookworm-slim"
  say "base: pulled debian:bookworm-slim"
else
  base="$local_base"
  if [ "${TP_IMAGE_NEW_BASE:-0}" = 1 ] || ! podman image exists "$local_base"; then
    command -v mmdebstrap >/dev/null || fail "no registry's debian:bookworm-slim and no mmdebstrap"
    say "base: no registry's debian:bookworm-slim here; making $local_base with mmdebstrap"
    work="$(mktemp -d)"
    apt_sources >"$work/debian.sources"
    # The apt options of this machine (proxies, date checks) too, so the same mirror answers.
    aptopts=()
    for conf in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
      [ -f "$conf" ] && aptopts+=(--aptopt="$conf")
    done
    # What debian:bookworm-slim is: minbase, merged /usr, no documentation, manuals or
    # translations (the path excludes stay in /etc/dpkg/dpkg.cfg.d for later installs).
    start=$SECONDS
    nice mmdebstrap --variant=minbase --format=tar \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr "${aptopts[@]}" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-include=/usr/share/locale/locale.alias' \
      --dpkgopt='path-exclude=/usr/share/groff/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
      --dpkgopt='path-exclude=/usr/share/linda/*' \
      bookworm "$work/base.tar" "$work/debian.sources" >"$work/mmdebstrap.log" 2>&1 ||
      { tail -n 30 "$work/mmdebstrap.log" >&2; fail "mmdebstrap"; }
    podman import -q --change 'CMD ["bash"]' "$work/base.tar" "$local_base" >/dev/null
    rm -rf "$work"
    say "base: made in $((SECONDS - start)) s"
  fi
fi
say "base: $base"

# --- The build -----------------------------------------------------------------------------

revision="$(git rev-parse HEAD 2>/dev/null || true)"
start=$SECONDS
# --format docker: the OCI image format has no HEALTHCHECK.
nice podman build --isolation chroot --format docker --layers \
  --build-arg BASE_IMAGE="$base" --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$image" "$root" >"${TMPDIR:-/tmp}/image-test-build.log" 2>&1 ||
  { tail -n 40 "${TMPDIR:-/tmp}/image-test-build.log" >&2; fail "podman build (log: ${TMPDIR:-/tmp}/image-test-build.log)"; }
build_seconds=$((SECONDS - start))
grep '^runtime packages:' "${TMPDIR:-/tmp}/image-test-build.log" | sed 's/^/image-test: /' || true
size="$(podman image inspect --format '{{.Size}}' "$image")"
say "built $image in ${build_seconds} s: $((size / 1000000)) MB ($size bytes)"

# --- The image's configuration -------------------------------------------------------------

read_config
say "labels: version=$label_version revision=$(inspect '{{index .Config.Labels "org.opencontainers.image.revision"}}')"
say "user=$user workdir=$workdir entrypoint=$entrypoint ports=$ports healthcheck=$healthcheck"
[ "$label_version" = "$version" ] || fail "label version '$label_version', CMakeLists.txt $version"
case "$user" in "" | 0 | 0:* | root | root:*) fail "runs as root ('$user')" ;; esac
[ "$workdir" = /data ] || fail "working directory '$workdir', not /data"
[ "$entrypoint" = "/usr/bin/telemetry-processor " ] || fail "entrypoint '$entrypoint'"
[[ " $ports" == *" 8989/tcp "* ]] || fail "port 8989 not exposed ('$ports')"
[[ "$healthcheck" == "CMD "* ]] || fail "no HEALTHCHECK ('$healthcheck')"

# --- The image's files ---------------------------------------------------------------------

mnt="$(podman image mount "$image")"
trap 'podman image unmount "$image" >/dev/null || true' EXIT
[ "$(stat -c %u "$mnt/data")" = "${user%%:*}" ] || fail "/data is not owned by the image's user"
[ -x "$mnt/usr/bin/telemetry-processor" ] || fail "no /usr/bin/telemetry-processor"
for tool in gcc g++ cc c++ cmake ninja make; do
  [ ! -e "$mnt/usr/bin/$tool" ] || fail "build tool /usr/bin/$tool in the image"
done
dev_packages="$(chroot "$mnt" dpkg-query -W -f '${Package}\n' | grep -E -- '-dev$' || true)"
[ -z "$dev_packages" ] || fail "-dev packages in the image: $dev_packages"
missing="$(chroot "$mnt" ldd /usr/bin/telemetry-processor | grep 'not found' || true)"
[ -z "$missing" ] || fail "libraries not found: $missing"
say "every library found; no build tools, no -dev packages; $(chroot "$mnt" dpkg-query -W -f '${Package}\n' | wc -l) packages"

unshare --mount --propagation private "$root/scripts/image-test.sh" --run-in "$mnt"
say "passed: $image, $((size / 1000000)) MB, built in ${build_seconds} s"
