#!/usr/bin/env python3
"""The pod runner of tests/pod_runner.rs: runs Kubernetes objects on this machine as a kubelet,
kube-proxy and a small API server would, so that the kubernetes target's pods are proven by running
them. It is a test harness, not part of pgtopo.

What it does, for the objects it is given (JSON, one list; `pgtopo build` output converted):
- every pod of a StatefulSet, Deployment or Job gets a network namespace with a veth on a private
  bridge (10.244.0.0/24, in a namespace of its own), its hostname (and subdomain), and an
  /etc/hosts that resolves what Kubernetes' DNS would: Service names (short, .ns, .ns.svc,
  .ns.svc.cluster.local) to their ClusterIP, a StatefulSet pod's `<pod>.<serviceName>` to its IP;
- every container runs in its own mount, UTS and PID namespace (so killing its PID 1 kills it
  all, as a container runtime does) on a read-only root made of this machine's /usr and a copy
  of its /etc with the image's user added (`readOnlyRootFilesystem`), with its volumes mounted
  where it says: ConfigMaps as files of their defaultMode, emptyDirs, one persistent folder per
  volumeClaimTemplate and pod, fsGroup on each; then command and args as written, with its env
  (values, Secret keys, `metadata.name`) and the image's, as runAsUser/runAsGroup/fsGroup with no
  new privileges;
- init containers first, in order; restartPolicy Always with the kubelet's back-off (10 s,
  doubling); Jobs with backoffLimit; readiness and liveness probes (exec, tcpSocket) with their
  delays, periods, timeouts and thresholds;
- Services: a ClusterIP each; every pod network namespace gets nftables rules that DNAT the
  ClusterIP and port to a random ready endpoint (the selector matched against the pods' current
  labels) and reject when there is none, as kube-proxy does;
- the one stand-in: `kubectl` inside the pods is a recorder that sends its request to this
  runner, which authorises it with the objects' Role and RoleBinding and the pod's service account
  token (mounted only when automountServiceAccountToken allows) and applies `label pod`.

The test reads the runner's state from the state folder (pods.json, services.json, api.log,
logs/), applies more objects by writing apply-*.json into state/control/, and keeps a pod's
crashed containers from restarting while state/control/hold-<pod> exists (its node is down). SIGTERM, or the
death of the process that started it, stops every container and deletes every namespace.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
POD_NET = "10.244.0"
SVC_NET = "10.96.0"
PG_BIN = "/usr/lib/postgresql/15/bin"

# What the runner knows of each image: the user entries and environment its Dockerfile sets, and
# where its binaries are. Debian's packages stand in for the image's own builds of the same
# programs (PostgreSQL 15, pg_auto_failover 2.0, PgBouncer 1.18); docs/live-proof.md says so.
IMAGES = {
    "citusdata/pg_auto_failover": {
        # hapostgres/pg_auto_failover's Dockerfile, stage run: `adduser ... --home
        # /var/lib/postgres docker`, `adduser docker postgres`, USER docker, its ENV.
        "users": [("docker", 1000, 1000, "/var/lib/postgres")],
        "groups": [("docker", 1000, []), ("postgres", None, ["docker"])],
        "dirs": [("/var/lib/postgres", 1000)],
        "env": {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:" + PG_BIN,
            "PG_AUTOCTL_DEBUG": "1",
            "PGDATA": "/var/lib/postgres/pgaf",
        },
    },
    "edoburu/pgbouncer": {
        # Alpine's postgres user (uid 70), as the image runs pgbouncer.
        "users": [("postgres-alpine", 70, 70, "/var/lib/postgresql")],
        "groups": [("postgres-alpine", 70, [])],
        "dirs": [],
        "env": {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
    },
    # bitnami's kubectl image, pulled from bitnamilegacy where bitnami moved its versioned tags
    # (August 2025); the image and its paths are the same.
    "bitnamilegacy/kubectl": {
        "users": [],
        "groups": [],
        "dirs": [],
        "env": {
            "PATH": "/opt/bitnami/kubectl/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        },
        # The recorder stands where the image's kubectl is.
        "kubectl": "/opt/bitnami/kubectl/bin/kubectl",
    },
}


def image_profile(image):
    repo = image.split("@")[0]
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    repo = repo.removeprefix("docker.io/").removeprefix("library/")
    if repo not in IMAGES:
        raise SystemExit(f"pod runner: no profile for image {image} (add one to IMAGES)")
    return IMAGES[repo]


def sh(*args, check=True, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_in_place(path, text):
    # Bind-mounted files keep their inode: rewrite the content, never replace the file.
    with open(path, "a+") as f:
        f.seek(0)
        f.truncate()
        f.write(text)


class Probe:
    def __init__(self, spec, kind):
        self.spec = spec or {}
        self.kind = kind
        self.delay = self.spec.get("initialDelaySeconds", 0)
        self.period = self.spec.get("periodSeconds", 10)
        self.timeout = self.spec.get("timeoutSeconds", 1)
        self.failure_threshold = self.spec.get("failureThreshold", 3)
        self.success_threshold = self.spec.get("successThreshold", 1)


class Container:
    def __init__(self, pod, spec, init=False):
        self.pod = pod
        self.spec = spec
        self.name = spec["name"]
        self.init = init
        self.proc = None
        self.pid1 = None
        self.state = "waiting"
        self.exit_code = None
        self.restarts = 0
        self.ready = False
        self.started_at = None
        self.readiness = Probe(spec.get("readinessProbe"), "readiness") if spec.get("readinessProbe") else None
        self.liveness = Probe(spec.get("livenessProbe"), "liveness") if spec.get("livenessProbe") else None
        self.lock = threading.Lock()

    def port(self, ref):
        if isinstance(ref, int):
            return ref
        for p in self.spec.get("ports", []):
            if p.get("name") == ref:
                return p["containerPort"]
        raise SystemExit(f"pod runner: {self.pod.name}/{self.name} has no port named {ref}")


class Pod:
    def __init__(self, runner, name, owner, template, index, ip, hostname=None, subdomain=None,
                 restart="Always"):
        self.runner = runner
        self.name = name
        self.owner = owner  # (kind, name)
        self.template = template
        self.spec = template["spec"]
        self.labels = dict(template["metadata"].get("labels", {}))
        self.index = index
        self.ip = ip
        self.hostname = hostname or name
        self.subdomain = subdomain
        self.restart = restart
        self.netns = f"{runner.prefix}-{index}"
        self.dir = os.path.join(runner.state, "pods", name)
        self.phase = "Pending"
        self.containers = [Container(self, c) for c in self.spec["containers"]]
        self.inits = [Container(self, c, init=True) for c in self.spec.get("initContainers", [])]
        self.stopped = False

    def ready(self):
        return self.phase == "Running" and all(c.ready for c in self.containers)


class Runner:
    def __init__(self, state, prefix, secrets):
        self.state = state
        self.prefix = prefix
        self.secrets = secrets  # {secret name: {key: value}}
        self.objects = []
        self.pods = {}
        self.services = {}  # name -> {clusterIP, ports, selector, headless, publishNotReady}
        self.namespace = None
        self.lock = threading.RLock()
        self.stop = threading.Event()
        self.next_ip = 10
        self.next_svc_ip = 10
        self.jobs = {}  # name -> {spec, failures, succeeded, pods}
        self.api_seq = 0
        self.parent = os.getppid()
        for d in ("pods", "logs", "control", "api", "roots"):
            os.makedirs(os.path.join(state, d), exist_ok=True)
        os.chmod(os.path.join(state, "api"), 0o1777)
        self.etc_cache = {}
        self.etc_lock = threading.Lock()

    # ---- network ------------------------------------------------------------------------------
    def setup_switch(self):
        sw = f"{self.prefix}-sw"
        sh("ip", "netns", "add", sw)
        sh("ip", "-n", sw, "link", "set", "lo", "up")
        sh("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", sw, "addr", "add", f"{POD_NET}.1/24", "dev", "br0")
        sh("ip", "-n", sw, "link", "set", "br0", "up")
        self.switch = sw

    def plug(self, netns, ip, index):
        sh("ip", "netns", "add", netns)
        host_end = f"v{index}"
        sh("ip", "-n", self.switch, "link", "add", host_end, "type", "veth", "peer", "name", "eth0",
           "netns", netns)
        sh("ip", "-n", self.switch, "link", "set", host_end, "master", "br0", "up")
        sh("ip", "-n", netns, "link", "set", "lo", "up")
        sh("ip", "-n", netns, "addr", "add", f"{ip}/24", "dev", "eth0")
        sh("ip", "-n", netns, "link", "set", "eth0", "up")
        sh("ip", "-n", netns, "route", "add", "default", "via", f"{POD_NET}.1")

    def alloc_ip(self):
        ip = f"{POD_NET}.{self.next_ip}"
        self.next_ip += 1
        return ip

    # ---- objects ------------------------------------------------------------------------------
    def apply(self, objects):
        with self.lock:
            new_pods = []
            for o in objects:
                self.objects.append(o)
                kind = o["kind"]
                meta = o["metadata"]
                self.namespace = self.namespace or meta.get("namespace")
                if kind == "Service":
                    self.add_service(o)
                elif kind == "StatefulSet":
                    for i in range(o["spec"].get("replicas", 1)):
                        name = f"{meta['name']}-{i}"
                        new_pods.append(self.make_pod(name, ("StatefulSet", meta["name"]),
                                                      o["spec"]["template"], hostname=name,
                                                      subdomain=o["spec"].get("serviceName")))
                elif kind == "Deployment":
                    for i in range(o["spec"].get("replicas", 1)):
                        new_pods.append(self.make_pod(f"{meta['name']}-runner-{i}",
                                                      ("Deployment", meta["name"]),
                                                      o["spec"]["template"]))
                elif kind == "Job":
                    self.jobs[meta["name"]] = {"spec": o["spec"], "failures": 0, "succeeded": False,
                                               "failed": False, "pods": []}
                    new_pods.append(self.job_pod(meta["name"]))
            self.refresh_network()
        for p in new_pods:
            threading.Thread(target=self.run_pod, args=(p,), daemon=True).start()

    def make_pod(self, name, owner, template, hostname=None, subdomain=None, restart="Always"):
        index = len(self.pods)
        pod = Pod(self, name, owner, template, index, self.alloc_ip(), hostname, subdomain, restart)
        os.makedirs(pod.dir, exist_ok=True)
        self.plug(pod.netns, pod.ip, index)
        self.pods[name] = pod
        return pod

    def job_pod(self, job):
        j = self.jobs[job]
        tmpl = j["spec"]["template"]
        name = f"{job}-runner-{len(j['pods'])}"
        pod = self.make_pod(name, ("Job", job), tmpl, restart=tmpl["spec"].get("restartPolicy", "Never"))
        j["pods"].append(name)
        return pod

    def add_service(self, o):
        spec = o["spec"]
        headless = spec.get("clusterIP") == "None"
        ip = None
        if not headless:
            ip = f"{SVC_NET}.{self.next_svc_ip}"
            self.next_svc_ip += 1
        self.services[o["metadata"]["name"]] = {
            "clusterIP": ip,
            "ports": spec.get("ports", []),
            "selector": spec.get("selector", {}),
            "headless": headless,
            "publishNotReadyAddresses": spec.get("publishNotReadyAddresses", False),
        }

    def matches(self, selector, labels):
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    def endpoints(self, svc):
        return [p for p in self.pods.values()
                if not p.stopped and self.matches(svc["selector"], p.labels)
                and (p.ready() or svc["publishNotReadyAddresses"])]

    def hosts_text(self, pod):
        ns = self.namespace
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        if pod is not None:
            if pod.subdomain:
                fq = f"{pod.hostname}.{pod.subdomain}.{ns}.svc.cluster.local"
                lines.append(f"{pod.ip}\t{fq}\t{pod.hostname}")
            else:
                lines.append(f"{pod.ip}\t{pod.hostname}")
        for name, svc in self.services.items():
            names = [name, f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"]
            if svc["clusterIP"]:
                lines.append(f"{svc['clusterIP']}\t" + " ".join(names))
                continue
            # A headless Service: A records of its endpoints, and a name for each StatefulSet pod
            # whose subdomain it is.
            for p in self.endpoints(svc):
                # The first name of a line is what a reverse lookup of the address answers: for
                # a pod of a headless Service, Kubernetes' DNS answers its FQDN.
                if p.subdomain == name:
                    lines.append(f"{p.ip}\t" + " ".join(f"{p.hostname}.{n}" for n in reversed(names)))
                lines.append(f"{p.ip}\t" + " ".join(names))
        return "\n".join(lines) + "\n"

    def nft_text(self):
        nat, flt = [], []
        for name, svc in self.services.items():
            if not svc["clusterIP"]:
                continue
            eps = [p for p in self.endpoints(svc)]
            for port in svc["ports"]:
                proto = port.get("protocol", "TCP").lower()
                match = f"ip daddr {svc['clusterIP']} {proto} dport {port['port']}"
                if not eps:
                    flt.append(f"    {match} reject with tcp reset")
                    continue
                target = port.get("targetPort", port["port"])
                # Every pod of a template has the same container ports.
                tport = None
                for c in eps[0].containers:
                    try:
                        tport = c.port(target)
                        break
                    except SystemExit:
                        continue
                if tport is None:
                    flt.append(f"    {match} reject with tcp reset")
                    continue
                m = ", ".join(f"{i} : {p.ip}" for i, p in enumerate(eps))
                nat.append(f"    {match} dnat to numgen random mod {len(eps)} map {{ {m} }} : {tport}")
        return ("table ip kube-proxy\ndelete table ip kube-proxy\ntable ip kube-proxy {\n"
                "  chain nat { type nat hook output priority -100; policy accept;\n"
                + "\n".join(nat) + "\n  }\n"
                "  chain filter { type filter hook output priority 0; policy accept;\n"
                + "\n".join(flt) + "\n  }\n}\n")

    def refresh_network(self):
        """Endpoints changed (a pod appeared, its readiness or labels changed): rewrite every
        netns's Service rules and every pod's /etc/hosts, and the state files."""
        with self.lock:
            rules = self.nft_text()
            for p in list(self.pods.values()) + [None]:
                netns = p.netns if p else self.client
                hosts = os.path.join(p.dir if p else self.state, "hosts")
                write_in_place(hosts, self.hosts_text(p))
                if p and p.stopped:
                    continue
                subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=rules,
                               text=True, capture_output=True, check=True)
            self.dump()

    def dump(self):
        pods = {}
        for p in self.pods.values():
            pods[p.name] = {
                "ip": p.ip, "netns": p.netns, "labels": p.labels, "phase": p.phase,
                "ready": p.ready(), "owner": list(p.owner),
                "containers": {c.name: {"state": c.state, "pid": c.pid1, "restarts": c.restarts,
                                        "ready": c.ready, "exitCode": c.exit_code}
                               for c in p.inits + p.containers},
            }
        write_atomic(os.path.join(self.state, "pods.json"), json.dumps(pods, indent=1))
        svcs = {n: {"clusterIP": s["clusterIP"], "ports": s["ports"], "selector": s["selector"],
                    "endpoints": [p.name for p in self.endpoints(s)]}
                for n, s in self.services.items()}
        write_atomic(os.path.join(self.state, "services.json"), json.dumps(svcs, indent=1))
        jobs = {n: {k: v for k, v in j.items() if k != "spec"} for n, j in self.jobs.items()}
        write_atomic(os.path.join(self.state, "jobs.json"), json.dumps(jobs, indent=1))

    # ---- containers ---------------------------------------------------------------------------
    def image_etc(self, image):
        """A copy of this machine's /etc with the image's users and groups, shared read-only by
        every container of the image."""
        with self.etc_lock:
            return self._image_etc(image)

    def _image_etc(self, image):
        prof = image_profile(image)
        key = image.split(":")[0]
        if key in self.etc_cache:
            return self.etc_cache[key]
        etc = os.path.join(self.state, "roots", "etc-" + key.replace("/", "_"))
        shutil.copytree("/etc", etc, symlinks=True, ignore_dangling_symlinks=True,
                        ignore=shutil.ignore_patterns("shadow*", "gshadow*"))
        # This machine's own accounts (uid/gid 1000-59999) are not the image's; the image's are.
        def local(fields):
            return 1000 <= int(fields[2]) < 60000

        with open(os.path.join(etc, "passwd")) as f:
            users = [line.rstrip("\n").split(":") for line in f if line.strip()]
        users = [u for u in users if not local(u) and u[0] not in {x[0] for x in prof["users"]}]
        users += [[name, "x", str(uid), str(gid), "", home, "/bin/sh"]
                  for name, uid, gid, home in prof["users"]]
        with open(os.path.join(etc, "passwd"), "w") as f:
            f.write("".join(":".join(u) + "\n" for u in users))
        with open(os.path.join(etc, "group")) as f:
            groups = [line.rstrip("\n").split(":") for line in f if line.strip()]
        groups = [g for g in groups if not local(g)]
        for name, gid, members in prof["groups"]:
            found = [g for g in groups if g[0] == name]
            if found:
                g = found[0]
                g[3] = ",".join([m for m in g[3].split(",") if m] + members)
            else:
                groups.append([name, "x", str(gid), ",".join(members)])
        with open(os.path.join(etc, "group"), "w") as f:
            f.write("".join(":".join(g) + "\n" for g in groups))
        # Kubernetes' DNS answers at once (here: nothing listens, the query is refused at once);
        # this machine's resolver is not reachable from a pod's network and would time out.
        ns = self.namespace
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write(f"nameserver 127.0.0.1\nsearch {ns}.svc.cluster.local svc.cluster.local "
                    "cluster.local\noptions ndots:5\n")
        self.etc_cache[key] = etc
        return etc

    def container_spec(self, c):
        pod = c.pod
        spec = c.spec
        prof = image_profile(spec["image"])
        psc = pod.spec.get("securityContext", {})
        csc = spec.get("securityContext", {})
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        gid = csc.get("runAsGroup", psc.get("runAsGroup"))
        if uid is None:
            raise SystemExit(f"pod runner: {pod.name}/{c.name} sets no runAsUser; the image's "
                             "default user is not modelled")
        if (csc.get("runAsNonRoot") or psc.get("runAsNonRoot")) and uid == 0:
            raise SystemExit(f"pod runner: {pod.name}/{c.name} runs as root with runAsNonRoot")
        groups = []
        if psc.get("fsGroup") is not None:
            groups.append(psc["fsGroup"])
        etc = self.image_etc(spec["image"])
        # Supplementary groups the image's /etc/group gives the user (as the runtime does).
        names = [u[0] for u in prof["users"] if u[1] == uid]
        with open(os.path.join(etc, "group")) as f:
            for line in f:
                g = line.strip().split(":")
                if len(g) == 4 and any(n in g[3].split(",") for n in names):
                    groups.append(int(g[2]))
        home = next((u[3] for u in prof["users"] if u[1] == uid), "/")
        env = {"HOME": home, "HOSTNAME": pod.hostname}
        env.update(prof["env"])
        # What the kubelet adds to every container: the API server's address, and (with
        # enableServiceLinks, the default) each Service of the namespace.
        env["KUBERNETES_SERVICE_HOST"] = f"{SVC_NET}.1"
        env["KUBERNETES_SERVICE_PORT"] = "443"
        if pod.spec.get("enableServiceLinks", True):
            for sname, svc in self.services.items():
                if not svc["clusterIP"] or not svc["ports"]:
                    continue
                n = sname.upper().replace("-", "_")
                first = svc["ports"][0]
                env[f"{n}_SERVICE_HOST"] = svc["clusterIP"]
                env[f"{n}_SERVICE_PORT"] = str(first["port"])
                env[f"{n}_PORT"] = f"tcp://{svc['clusterIP']}:{first['port']}"
        for e in spec.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
                continue
            vf = e.get("valueFrom", {})
            if "secretKeyRef" in vf:
                r = vf["secretKeyRef"]
                sec = self.secrets.get(r["name"])
                if sec is None or r["key"] not in sec:
                    if r.get("optional"):
                        continue
                    raise SystemExit(f"pod runner: {pod.name}/{c.name}: Secret {r['name']} has no "
                                     f"key {r['key']} (CreateContainerConfigError)")
                env[e["name"]] = sec[r["key"]]
            elif "fieldRef" in vf:
                path = vf["fieldRef"]["fieldPath"]
                env[e["name"]] = {"metadata.name": pod.name, "metadata.namespace": self.namespace,
                                  "status.podIP": pod.ip}[path]
            else:
                raise SystemExit(f"pod runner: unsupported env source {vf}")
        mounts = []
        vols = {v["name"]: v for v in pod.spec.get("volumes", [])}
        claims = {}
        owner = pod.owner
        if owner[0] == "StatefulSet":
            sts = next(o for o in self.objects if o["kind"] == "StatefulSet"
                       and o["metadata"]["name"] == owner[1])
            claims = {t["metadata"]["name"]: t for t in sts["spec"].get("volumeClaimTemplates", [])}
        for m in spec.get("volumeMounts", []):
            src = self.volume_dir(pod, m["name"], vols, claims)
            if m.get("subPath"):
                src = os.path.join(src, m["subPath"])
            mounts.append({"src": src, "dst": m["mountPath"], "ro": bool(m.get("readOnly"))})
        # The service account token, where kubectl looks for it, when the pod gets one.
        sa = pod.spec.get("serviceAccountName", "default")
        sa_obj = next((o for o in self.objects if o["kind"] == "ServiceAccount"
                       and o["metadata"]["name"] == sa), None)
        auto = pod.spec.get("automountServiceAccountToken")
        if auto is None:
            auto = (sa_obj or {}).get("automountServiceAccountToken", True)
        if auto:
            tokdir = os.path.join(pod.dir, "serviceaccount")
            os.makedirs(tokdir, exist_ok=True)
            for k, v in (("token", f"sa:{self.namespace}:{sa}"), ("namespace", self.namespace)):
                with open(os.path.join(tokdir, k), "w") as f:
                    f.write(v)
            os.chmod(tokdir, 0o755)
            for k in ("token", "namespace"):
                os.chmod(os.path.join(tokdir, k), 0o644)
            mounts.append({"src": tokdir, "dst": "/var/run/secrets/kubernetes.io/serviceaccount",
                           "ro": True})
        if "kubectl" in prof:
            mounts.append({"src": os.path.join(HERE, "kubectl"), "dst": prof["kubectl"], "ro": True})
            mounts.append({"src": os.path.join(self.state, "api"), "dst": "/run/pgtopo-kube-api",
                           "ro": False})
        command = list(spec.get("command", [])) + list(spec.get("args", []))
        if not spec.get("command"):
            raise SystemExit(f"pod runner: {pod.name}/{c.name} relies on the image's entrypoint")
        root = os.path.join(self.state, "roots", f"{pod.name}-{c.name}")
        os.makedirs(root, exist_ok=True)
        return {
            "root": root, "etc": etc, "hosts": os.path.join(pod.dir, "hosts"),
            "hostname": pod.hostname, "uid": uid, "gid": gid if gid is not None else uid,
            "groups": sorted(set(groups)), "env": env, "mounts": mounts, "command": command,
            "dirs": prof["dirs"], "workdir": spec.get("workingDir", "/"),
            "readonly": bool(csc.get("readOnlyRootFilesystem")),
            "no_new_privs": csc.get("allowPrivilegeEscalation") is False,
        }

    def volume_dir(self, pod, name, vols, claims):
        with self.etc_lock:
            return self._volume_dir(pod, name, vols, claims)

    def _volume_dir(self, pod, name, vols, claims):
        fs_group = pod.spec.get("securityContext", {}).get("fsGroup")
        path = os.path.join(pod.dir, "volumes", name)
        if name in claims:
            # One persistent folder per claim and pod: it outlives container restarts.
            path = os.path.join(self.state, "pvc", f"{name}-{pod.name}")
            if not os.path.isdir(path):
                os.makedirs(path)
                os.chown(path, 0, fs_group or 0)
                os.chmod(path, 0o2775 if fs_group is not None else 0o755)
            return path
        v = vols.get(name)
        if v is None:
            raise SystemExit(f"pod runner: {pod.name} mounts unknown volume {name}")
        if os.path.isdir(path):
            return path
        os.makedirs(path)
        if "emptyDir" in v:
            os.chmod(path, 0o777)
        elif "configMap" in v:
            cm_name = v["configMap"]["name"]
            cm = next((o for o in self.objects if o["kind"] == "ConfigMap"
                       and o["metadata"]["name"] == cm_name), None)
            if cm is None:
                raise SystemExit(f"pod runner: ConfigMap {cm_name} does not exist")
            mode = v["configMap"].get("defaultMode", 0o644)
            items = v["configMap"].get("items")
            data = cm.get("data", {})
            pairs = [(i["key"], i["path"], i.get("mode", mode)) for i in items] if items else \
                [(k, k, mode) for k in data]
            for key, rel, m in pairs:
                f = os.path.join(path, rel)
                with open(f, "w") as fh:
                    fh.write(data[key])
                os.chown(f, 0, fs_group or 0)
                os.chmod(f, m)
            os.chmod(path, 0o755)
        elif "secret" in v:
            sec = self.secrets[v["secret"]["secretName"]]
            for k, val in sec.items():
                f = os.path.join(path, k)
                with open(f, "w") as fh:
                    fh.write(val)
                os.chown(f, 0, fs_group or 0)
                os.chmod(f, v["secret"].get("defaultMode", 0o644))
        else:
            raise SystemExit(f"pod runner: unsupported volume {v}")
        return path

    def start_container(self, c):
        spec = self.container_spec(c)
        specfile = os.path.join(c.pod.dir, f"{c.name}.json")
        write_atomic(specfile, json.dumps(spec))
        log = open(os.path.join(self.state, "logs", f"{c.pod.name}_{c.name}.log"), "a")
        log.write(f"---- start {time.strftime('%H:%M:%S')} (restart {c.restarts})\n")
        log.flush()
        proc = subprocess.Popen(
            ["ip", "netns", "exec", c.pod.netns, "unshare", "--mount", "--uts", "--pid", "--fork",
             "--propagation", "private", sys.executable, os.path.abspath(__file__), "_container",
             specfile],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        pid1 = None
        for _ in range(200):
            try:
                with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                    kids = f.read().split()
                if kids:
                    pid1 = int(kids[0])
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                break
            time.sleep(0.01)
        with c.lock:
            c.proc, c.pid1 = proc, pid1
            c.state = "running"
            c.started_at = time.time()
            c.ready = c.readiness is None and not c.init
        return proc

    def kill_container(self, c, sig=signal.SIGKILL):
        with c.lock:
            if c.pid1:
                try:
                    os.kill(c.pid1, sig)
                except ProcessLookupError:
                    pass

    def run_pod(self, pod):
        try:
            self._run_pod(pod)
        except BaseException as e:  # noqa: BLE001 - reported in the pod's state
            pod.phase = f"Error: {e}"
            with open(os.path.join(self.state, "logs", f"{pod.name}_runner.log"), "a") as f:
                f.write(f"{e}\n")
            with self.lock:
                self.dump()

    def _run_pod(self, pod):
        pod.phase = "Pending"
        for c in pod.inits:
            while not self.stop.is_set():
                proc = self.start_container(c)
                code = proc.wait()
                c.exit_code, c.state = code, "terminated"
                if code == 0:
                    break
                if pod.restart == "Never":
                    pod.phase = "Failed"
                    self.job_pod_done(pod, False)
                    return
                c.restarts += 1
                time.sleep(min(10 * 2 ** (c.restarts - 1), 300))
        pod.phase = "Running"
        with self.lock:
            self.dump()
        threads = [threading.Thread(target=self.run_container, args=(c,), daemon=True)
                   for c in pod.containers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if pod.restart != "Always" and not self.stop.is_set():
            ok = all(c.exit_code == 0 for c in pod.containers)
            pod.phase = "Succeeded" if ok else "Failed"
            self.job_pod_done(pod, ok)
        with self.lock:
            self.refresh_network()

    def job_pod_done(self, pod, ok):
        if pod.owner[0] != "Job":
            return
        j = self.jobs[pod.owner[1]]
        with self.lock:
            if ok:
                j["succeeded"] = True
            else:
                j["failures"] += 1
                if j["failures"] > j["spec"].get("backoffLimit", 6):
                    j["failed"] = True
                else:
                    delay = min(10 * 2 ** (j["failures"] - 1), 360)
                    threading.Timer(delay, self.retry_job, args=(pod.owner[1],)).start()
            self.dump()

    def retry_job(self, job):
        if self.stop.is_set():
            return
        with self.lock:
            pod = self.job_pod(job)
            self.refresh_network()
        threading.Thread(target=self.run_pod, args=(pod,), daemon=True).start()

    def run_container(self, c):
        try:
            self._run_container(c)
        except BaseException as e:  # noqa: BLE001 - reported in the pod's state and log
            c.state = f"Error: {e}"
            with open(os.path.join(self.state, "logs", f"{c.pod.name}_{c.name}.log"), "a") as f:
                f.write(f"---- runner error: {e}\n")
            with self.lock:
                self.dump()

    def _run_container(self, c):
        backoff_restarts = 0
        while not self.stop.is_set():
            proc = self.start_container(c)
            with self.lock:
                self.refresh_network()
            probes = [threading.Thread(target=self.probe_loop, args=(c, p, proc), daemon=True)
                      for p in (c.readiness, c.liveness) if p]
            for t in probes:
                t.start()
            code = proc.wait()
            with c.lock:
                c.state, c.exit_code, c.ready, c.pid1 = "terminated", code, False, None
            with self.lock:
                self.refresh_network()
            if self.stop.is_set() or c.pod.stopped:
                return
            if c.pod.restart == "Never" or (c.pod.restart == "OnFailure" and code == 0):
                return
            # While the test holds the pod (control/hold-<pod>), it is as if its node were down:
            # nothing restarts it.
            hold = os.path.join(self.state, "control", f"hold-{c.pod.name}")
            while os.path.exists(hold) and not self.stop.is_set():
                time.sleep(0.2)
            # The kubelet's back-off: 10 s, doubling up to 5 min, reset after 10 min running.
            if time.time() - c.started_at > 600:
                backoff_restarts = 0
            backoff_restarts += 1
            c.restarts += 1
            c.state = "waiting"
            with self.lock:
                self.dump()
            self.stop.wait(min(10 * 2 ** (backoff_restarts - 1), 300))

    def probe_loop(self, c, probe, proc):
        if self.stop.wait(probe.delay):
            return
        fails = oks = 0
        while proc.poll() is None and not self.stop.is_set():
            ok = self.probe_once(c, probe)
            fails, oks = (0, oks + 1) if ok else (fails + 1, 0)
            if probe.kind == "readiness":
                new = (c.ready or oks >= probe.success_threshold) and fails < probe.failure_threshold
                if ok and oks >= probe.success_threshold:
                    new = True
                if new != c.ready and proc.poll() is None:
                    c.ready = new
                    with self.lock:
                        self.refresh_network()
            elif fails >= probe.failure_threshold:
                with open(os.path.join(self.state, "logs", f"{c.pod.name}_{c.name}.log"), "a") as f:
                    f.write(f"---- liveness probe failed {fails} times: killed\n")
                self.kill_container(c)
                return
            if self.stop.wait(probe.period):
                return

    def probe_once(self, c, probe):
        s = probe.spec
        try:
            if "exec" in s:
                pid = c.pid1
                if not pid:
                    return False
                spec = json.load(open(os.path.join(c.pod.dir, f"{c.name}.json")))
                env = [f"{k}={v}" for k, v in spec["env"].items()]
                r = subprocess.run(
                    ["nsenter", "-t", str(pid), "-m", "-u", "-n", "-p", "-r", "-w",
                     "-S", str(spec["uid"]), "-G", str(spec["gid"]), "--", "/usr/bin/env", "-i",
                     *env] + s["exec"]["command"],
                    capture_output=True, timeout=probe.timeout + 1)
                return r.returncode == 0
            if "tcpSocket" in s:
                port = c.port(s["tcpSocket"]["port"])
                r = subprocess.run(
                    ["ip", "netns", "exec", c.pod.netns, "timeout", str(probe.timeout), "bash", "-c",
                     f"</dev/tcp/{c.pod.ip}/{port}"], capture_output=True)
                return r.returncode == 0
        except subprocess.TimeoutExpired:
            return False
        raise SystemExit(f"pod runner: unsupported probe {s}")

    # ---- the API boundary: kubectl's requests -------------------------------------------------
    def authorised(self, token, verb, resource):
        try:
            _, ns, sa = token.split(":")
        except ValueError:
            return False
        for rb in (o for o in self.objects if o["kind"] == "RoleBinding"):
            if not any(s.get("kind") == "ServiceAccount" and s.get("name") == sa
                       and s.get("namespace", rb["metadata"].get("namespace")) == ns
                       for s in rb.get("subjects", [])):
                continue
            role = next((o for o in self.objects if o["kind"] == rb["roleRef"]["kind"]
                         and o["metadata"]["name"] == rb["roleRef"]["name"]), None)
            for rule in (role or {}).get("rules", []):
                if "" in rule.get("apiGroups", []) and resource in rule.get("resources", []) \
                        and verb in rule.get("verbs", []):
                    return True
        return False

    def serve_api(self):
        api = os.path.join(self.state, "api")
        for f in sorted(os.listdir(api)):
            if not (f.startswith("req-") and f.endswith(".json")):
                continue
            path = os.path.join(api, f)
            try:
                req = json.load(open(path))
            except (OSError, ValueError):
                continue
            os.unlink(path)
            resp = self.handle(req)
            self.api_seq += 1
            with open(os.path.join(self.state, "api.log"), "a") as log:
                log.write(json.dumps({"t": time.time(), "request": req, "response": resp}) + "\n")
            write_atomic(os.path.join(api, "resp-" + f[4:]), json.dumps(resp))

    def handle(self, req):
        # `kubectl label pod NAME --overwrite k=v`: kubectl gets the pod, then patches it.
        name = req.get("pod")
        for verb in ("get", "patch"):
            if not self.authorised(req.get("token", ""), verb, "pods"):
                return {"ok": False, "message": f'pods "{name}" is forbidden: cannot {verb} pods'}
        with self.lock:
            pod = self.pods.get(name)
            if pod is None:
                return {"ok": False, "message": f'pods "{name}" not found'}
            for k, v in req.get("labels", {}).items():
                if v is None:
                    pod.labels.pop(k, None)
                elif k in pod.labels and pod.labels[k] != v and not req.get("overwrite"):
                    return {"ok": False, "message": f"'{k}' already has a value ({pod.labels[k]}), and --overwrite is false"}
                else:
                    pod.labels[k] = v
            self.refresh_network()
        return {"ok": True, "message": f"pod/{name} labeled"}

    # ---- main loop ----------------------------------------------------------------------------
    def setup_client(self):
        self.client = f"{self.prefix}-client"
        self.plug(self.client, f"{POD_NET}.250", 250)

    def loop(self):
        control = os.path.join(self.state, "control")
        while not self.stop.is_set():
            self.serve_api()
            for f in sorted(os.listdir(control)):
                if f.startswith("apply-") and f.endswith(".json"):
                    path = os.path.join(control, f)
                    objs = json.load(open(path))
                    os.rename(path, path + ".done")
                    self.apply(objs)
            if os.getppid() != self.parent:
                break
            time.sleep(0.1)

    def teardown(self):
        self.stop.set()
        for p in self.pods.values():
            p.stopped = True
            for c in p.inits + p.containers:
                self.kill_container(c)
        time.sleep(0.5)
        for p in self.pods.values():
            for c in p.inits + p.containers:
                if c.proc and c.proc.poll() is None:
                    try:
                        os.killpg(c.proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        for p in list(self.pods.values()):
            subprocess.run(["ip", "netns", "del", p.netns], capture_output=True)
        for ns in (getattr(self, "client", None), getattr(self, "switch", None)):
            if ns:
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def container_main(specfile):
    """PID 1 of a new PID namespace, root, in fresh mount and UTS namespaces inside the pod's
    network namespace: builds the container's root and execs its command as its user."""
    spec = json.load(open(specfile))
    r = spec["root"]

    def mount(*args):
        subprocess.run(["mount", *args], check=True)

    # Read-only binds are made read-only after every mount point below them exists.
    readonly = []

    def bind(src, dst, ro):
        mount("--bind", src, dst)
        if ro:
            readonly.append(dst)

    mount("-t", "tmpfs", "-o", "mode=755", "tmpfs", r)
    for d in ("usr", "etc", "proc", "dev", "run", "var/lib", "tmp", "opt"):
        os.makedirs(os.path.join(r, d), exist_ok=True)
    os.chmod(os.path.join(r, "tmp"), 0o1777)
    for link, target in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"),
                         ("lib64", "usr/lib64"), ("var/run", "../run")):
        os.symlink(target, os.path.join(r, link))
    bind("/usr", os.path.join(r, "usr"), True)
    # The image's /usr/local is its own (pg_autoctl there); this machine's would leak in.
    mount("-t", "tmpfs", "-o", "mode=755,size=1m", "tmpfs", os.path.join(r, "usr/local"))
    bind(spec["etc"], os.path.join(r, "etc"), True)
    bind(spec["hosts"], os.path.join(r, "etc/hosts"), True)
    mount("--rbind", "/dev", os.path.join(r, "dev"))
    mount("-t", "proc", "proc", os.path.join(r, "proc"))
    for d, uid in spec["dirs"]:
        p = os.path.join(r, d.lstrip("/"))
        os.makedirs(p, exist_ok=True)
        os.chown(p, uid, uid)
    for m in spec["mounts"]:
        rel = os.path.realpath(os.path.join(r, m["dst"].lstrip("/")))[len(r):].lstrip("/")
        dst = os.path.join(r, rel)
        if os.path.isdir(m["src"]):
            os.makedirs(dst, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            open(dst, "a").close()
        bind(m["src"], dst, m["ro"])
    for dst in readonly:
        mount("-o", "remount,bind,ro", dst)
    subprocess.run(["hostname", spec["hostname"]], check=True)
    if spec["readonly"]:
        mount("-o", "remount,bind,ro", r)
    os.chroot(r)
    os.chdir(spec["workdir"])
    argv = ["/usr/bin/setpriv", f"--reuid={spec['uid']}", f"--regid={spec['gid']}",
            "--groups=" + ",".join(str(g) for g in spec["groups"]) if spec["groups"] else "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all"]
    if spec["no_new_privs"]:
        argv.append("--no-new-privs")
    argv += ["--"] + spec["command"]
    os.execve(argv[0], argv, spec["env"])


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_container":
        container_main(sys.argv[2])
        return
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--secrets", required=True)
    ap.add_argument("--objects", required=True)
    a = ap.parse_args()
    runner = Runner(a.state, a.prefix, json.load(open(a.secrets)))
    done = threading.Event()

    def on_signal(*_):
        done.set()
        runner.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        runner.setup_switch()
        runner.setup_client()
        runner.apply(json.load(open(a.objects)))
        with open(os.path.join(a.state, "started"), "w") as f:
            f.write(str(os.getpid()))
        runner.loop()
    finally:
        runner.teardown()
        with open(os.path.join(a.state, "stopped"), "w") as f:
            f.write("1")


if __name__ == "__main__":
    main()
