//! Issue 8, part 6: the load-balancer tier runs and fails over (seed 004's second failure mode).
//!
//! The keepalived.conf and haproxy.cfg that pgtopo emits for the two balancer hosts of
//! `topologies/haproxy-keepalived.kdl` run in two network namespaces, one per host, joined by a
//! bridge that lives in a third ("switch") namespace; a fourth ("client") namespace on the same link
//! probes the VIP. Every address exists only inside those namespaces, so nothing the test does is
//! visible on the machine's own network.
//!
//! The test checks that the higher-priority host takes the VIP, kills that host's haproxy (SIGKILL,
//! a crash) and measures the time until a TCP connect to the VIP succeeds again and the other host
//! holds it. It then restarts the dead haproxy, checks that the VIP does not move back (`nopreempt`),
//! and repeats in the other direction: three failovers in all, median printed.
//!
//! Runtime inputs the test provides, as a real deployment would: the VRRP authentication include
//! file (its path is the only change made to the emitted keepalived.conf) and the environment
//! variables of the haproxy stats credentials. keepalived's pid files go to the temp dir through its
//! command-line flags. Nothing else is substituted.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use pgtopo::emit;
use pgtopo::model::Target;

/// The emitted files of one balancer host, with what the test needs to know about it.
struct Host {
    name: String,
    address: String,
    priority: u32,
    haproxy_cfg: String,
    keepalived_conf: String,
}

/// Everything the test created: namespaces, and processes by host. Dropping it stops every process
/// (by process group) and deletes every namespace, which deletes the bridge and the veth pairs in
/// them; so a failed assertion or a panic leaves nothing behind.
struct Lab {
    prefix: String,
    dir: PathBuf,
    namespaces: Vec<String>,
    /// (host, "haproxy" | "keepalived") → the running process (`ip netns exec` execs the program,
    /// so the child is the program itself, leader of its own process group).
    procs: BTreeMap<(String, &'static str), Child>,
    /// Every PID the test started, to check after cleanup that none is left.
    pids: Vec<u32>,
}

impl Lab {
    fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    fn add_ns(&mut self, host: &str) {
        let ns = self.ns(host);
        ip(&["netns", "add", &ns]);
        self.namespaces.push(ns.clone());
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
    }

    /// Starts `program args` inside `host`'s namespace, output to `<dir>/<host>-<program>.log`.
    fn start(&mut self, host: &str, program: &'static str, args: &[&str]) {
        let log = self.log_path(host, program);
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(host), program])
            .args(args)
            // The values of the stats credentials the emitted haproxy.cfg expands (test-only).
            .env("HAPROXY_STATS_USER", "test-user")
            .env("HAPROXY_STATS_PASSWORD", "test-password")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} in {host}: {e}"));
        self.pids.push(child.id());
        self.procs.insert((host.to_owned(), program), child);
    }

    fn log_path(&self, host: &str, program: &str) -> PathBuf {
        self.dir.join(format!("{host}-{program}.log"))
    }

    fn log(&self, host: &str, program: &str) -> String {
        std::fs::read_to_string(self.log_path(host, program)).unwrap_or_default()
    }

    /// SIGKILL to `host`'s haproxy (a crash: no chance to say goodbye), and reap it.
    fn kill_haproxy(&mut self, host: &str) {
        let mut child = self
            .procs
            .remove(&(host.to_owned(), "haproxy"))
            .unwrap_or_else(|| panic!("{host}'s haproxy is not running"));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// True when `host`'s namespace holds `vip` on `ifname`.
    fn holds(&self, host: &str, ifname: &str, vip: &str) -> bool {
        let (ok, out) = common::run(Command::new("ip").args([
            "-n",
            &self.ns(host),
            "-o",
            "-4",
            "addr",
            "show",
            "dev",
            ifname,
        ]));
        assert!(ok, "ip addr in {host}: {out}");
        // `inet 10.0.0.100/24 …`: compare the address without its prefix length.
        out.split_whitespace()
            .any(|w| w.split('/').next() == Some(vip))
    }

    /// True when every track script of `host`'s keepalived.conf (its `script "…"` lines) succeeds
    /// when run in `host`'s namespace, as keepalived will run it.
    fn checks_pass(&self, host: &str, keepalived_conf: &str) -> bool {
        let scripts: Vec<&str> = keepalived_conf
            .lines()
            .filter_map(|l| l.trim().strip_prefix("script \"")?.strip_suffix('"'))
            .collect();
        assert!(
            !scripts.is_empty(),
            "{host}: keepalived.conf has no track script"
        );
        scripts.iter().all(|script| {
            Command::new("ip")
                .args(["netns", "exec", &self.ns(host), "sh", "-c", script])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    }

    /// The MAC address of `host`'s `ifname`.
    fn mac(&self, host: &str, ifname: &str) -> String {
        let (ok, out) = common::run(Command::new("ip").args([
            "-n",
            &self.ns(host),
            "-o",
            "link",
            "show",
            "dev",
            ifname,
        ]));
        assert!(ok, "ip link in {host}: {out}");
        let mut words = out.split_whitespace();
        words.find(|w| *w == "link/ether");
        words.next().expect("an ethernet address").to_owned()
    }

    /// One TCP connect from the client namespace to `addr:port`, given up after 300 ms (a SYN sent
    /// to a host that no longer holds the address gets no answer at all).
    fn connects(&self, addr: &str, port: u16) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.ns("client"), "timeout", "0.3"])
            .args(["bash", "-c", &format!("</dev/tcp/{addr}/{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The MAC address the client's ARP cache has for `addr`, if any.
    fn client_neighbour(&self, addr: &str) -> Option<String> {
        let (_, out) =
            common::run(Command::new("ip").args(["-n", &self.ns("client"), "neigh", "show", addr]));
        let mut words = out.split_whitespace();
        words.find(|w| *w == "lladdr")?;
        words.next().map(str::to_owned)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // SIGTERM first: keepalived then stops its VRRP child and removes the VIP itself.
        for child in self.procs.values() {
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for child in self.procs.values_mut() {
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                sleep(Duration::from_millis(50));
            }
            if matches!(child.try_wait(), Ok(None)) {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .stderr(Stdio::null())
                    .status();
                // The group leader at least, even if the kill command failed.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        self.procs.clear();
        // Deleting a namespace deletes its interfaces: the bridge and both ends of every veth.
        for ns in self.namespaces.drain(..).rev() {
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
    }
}

fn ip(args: &[&str]) {
    let (ok, out) = common::run(Command::new("ip").args(args));
    assert!(ok, "ip {}: {out}", args.join(" "));
}

/// The value of `key` on a line of the emitted keepalived.conf, or "-" when the file has none.
fn conf_value<'a>(conf: &'a str, key: &str) -> &'a str {
    conf.lines()
        .filter_map(|l| l.trim().strip_prefix(key))
        .filter_map(|rest| rest.strip_prefix(' '))
        .map(str::trim)
        .next()
        .unwrap_or("-")
}

/// Waits up to `limit` for `cond`, polling every 20 ms; returns the time it took.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if cond() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        sleep(Duration::from_millis(20));
    }
}

fn tools_present() -> bool {
    // `kill` (procps) is not listed: `command -v kill` finds the shell builtin either way.
    for tool in ["haproxy", "keepalived", "ip", "bash", "timeout"] {
        if !common::have_tool(tool) {
            return false;
        }
    }
    if !common::is_root() {
        if common::tools_required() {
            panic!("the VIP failover test needs root (it creates network namespaces)");
        }
        eprintln!("SKIPPED: the VIP failover test needs root to create network namespaces; it did not run");
        return false;
    }
    true
}

#[test]
fn vip_moves_when_the_master_haproxy_dies() {
    if !tools_present() {
        return;
    }
    let wall = Instant::now();
    let p = common::program(&common::repo().join("topologies/haproxy-keepalived.kdl"));
    let cluster = &p.base.clusters[0];
    let balancer = &cluster.balancers[0];
    let vip = balancer.vip.as_ref().expect("the topology declares a vip");
    let (vip_addr, prefix) = vip.address.value.split_once('/').unwrap();
    let ifname = vip.interface.value.as_str();
    let port = balancer.listens[0].port.value;

    // The emitted files of every balancer host (base, no env).
    let ha = emit::files(Target::Haproxy, &p).unwrap_or_else(|d| panic!("{d:#?}"));
    let ka = emit::files(Target::Keepalived, &p).unwrap_or_else(|d| panic!("{d:#?}"));
    let file = |b: &pgtopo::bundle::Bundle, path: &str| -> String {
        b.get(path)
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{path} was not emitted"))
    };
    let mut hosts: Vec<Host> = balancer
        .hosts
        .iter()
        .map(|h| Host {
            name: h.name.clone(),
            address: h.address.value.clone(),
            priority: h.priority.value,
            haproxy_cfg: file(&ha, &format!("base/{}/haproxy.cfg", h.name)),
            keepalived_conf: file(&ka, &format!("base/{}/keepalived.conf", h.name)),
        })
        .collect();
    assert_eq!(hosts.len(), 2, "the test expects two balancer hosts");
    hosts.sort_by_key(|h| std::cmp::Reverse(h.priority));
    let (high, low) = (hosts[0].name.clone(), hosts[1].name.clone());

    // The timing knobs, read from the emitted file (the one place that decides them).
    let kc = &hosts[0].keepalived_conf;
    let advert_int: f64 = conf_value(kc, "advert_int").parse().unwrap();
    let interval: f64 = conf_value(kc, "interval").parse().unwrap();
    let timeout: f64 = conf_value(kc, "timeout").parse().unwrap();
    let fall: f64 = conf_value(kc, "fall").parse().unwrap();
    let rise: f64 = conf_value(kc, "rise").parse().unwrap();
    let weight = conf_value(kc, "weight");
    eprintln!(
        "keepalived knobs (emitted): advert_int {advert_int}, check interval {interval} timeout \
         {timeout} fall {fall} rise {rise}, weight {weight}{}, priorities {}={} {}={}, {}",
        if weight == "-" {
            " (none: a failed check puts the instance in FAULT and gives the VIP up)"
        } else {
            ""
        },
        hosts[0].name,
        hosts[0].priority,
        hosts[1].name,
        hosts[1].priority,
        if kc.contains("nopreempt") {
            "nopreempt"
        } else {
            "preempt"
        }
    );
    // The slowest failover the knobs allow: `fall` failed checks (the kill may land just after a
    // check, and a check may take `timeout`), then the backup's master-down wait (at most
    // 3 × advert_int plus the skew, which is under one advert_int). Two seconds for a busy machine.
    let bound = Duration::from_secs_f64(interval * fall + timeout + 4.0 * advert_int + 2.0);

    // A client address in the VIP's subnet that no host uses.
    let used: Vec<&str> = hosts.iter().map(|h| h.address.as_str()).collect();
    let base: std::net::Ipv4Addr = vip_addr.parse().unwrap();
    let client_addr = (200u8..=254)
        .rev()
        .map(|last| {
            let [a, b, c, _] = base.octets();
            std::net::Ipv4Addr::new(a, b, c, last).to_string()
        })
        .find(|a| a != vip_addr && !used.contains(&a.as_str()))
        .unwrap();

    let dir = common::temp_dir("live-vip");
    let auth = dir.join("auth.conf");
    std::fs::write(&auth, common::KEEPALIVED_TEST_AUTH).unwrap();
    let mut lab = Lab {
        prefix: format!("pgtopo-vip{}", std::process::id()),
        dir: dir.clone(),
        namespaces: Vec::new(),
        procs: BTreeMap::new(),
        pids: Vec::new(),
    };

    // The private link: a bridge in the switch namespace, one veth pair per other namespace, named
    // like the topology's interface on the host side.
    lab.add_ns("switch");
    let sw = lab.ns("switch");
    ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"]);
    ip(&["-n", &sw, "link", "set", "br0", "up"]);
    let members: Vec<(String, String)> = hosts
        .iter()
        .map(|h| (h.name.clone(), h.address.clone()))
        .chain(std::iter::once(("client".to_owned(), client_addr.clone())))
        .collect();
    for (i, (name, addr)) in members.iter().enumerate() {
        lab.add_ns(name);
        let ns = lab.ns(name);
        let port_name = format!("p{i}");
        ip(&[
            "-n", &sw, "link", "add", &port_name, "type", "veth", "peer", "name", ifname, "netns",
            &ns,
        ]);
        ip(&["-n", &sw, "link", "set", &port_name, "master", "br0", "up"]);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/{prefix}"),
            "dev",
            ifname,
        ]);
        ip(&["-n", &ns, "link", "set", ifname, "up"]);
    }

    // haproxy first, so each keepalived's track script sees its listener from the start.
    for h in &hosts {
        let cfg = dir.join(format!("{}-haproxy.cfg", h.name));
        std::fs::write(&cfg, &h.haproxy_cfg).unwrap();
        let conf = dir.join(format!("{}-keepalived.conf", h.name));
        let label = format!("{}/keepalived.conf", h.name);
        std::fs::write(
            &conf,
            common::keepalived_with_auth(&h.keepalived_conf, &auth, &label),
        )
        .unwrap();
        lab.start(&h.name, "haproxy", &["-db", "-f", cfg.to_str().unwrap()]);
    }
    // Starting is not listening: a keepalived whose first check fails goes to FAULT, and the other
    // host (nopreempt) then keeps the VIP. Wait until every track script would pass.
    let ready = wait_for(Duration::from_secs(10), || {
        hosts
            .iter()
            .all(|h| lab.checks_pass(&h.name, &h.keepalived_conf))
    });
    assert!(
        ready.is_some(),
        "haproxy never listened where the track scripts look"
    );
    for h in &hosts {
        let name = h.name.clone();
        let path = |x: &str| dir.join(format!("{name}-{x}")).display().to_string();
        let (conf, pid, vrrp_pid) = (
            path("keepalived.conf"),
            path("keepalived.pid"),
            path("vrrp.pid"),
        );
        // -n: foreground; -l: log to the console (our log file); -D: state changes; -P: VRRP only.
        // -p/-r: pid files in the temp dir instead of /run, so two instances do not collide.
        lab.start(
            &name,
            "keepalived",
            &[
                "-n", "-l", "-D", "-P", "-f", &conf, "-p", &pid, "-r", &vrrp_pid,
            ],
        );
    }

    let logs = |lab: &Lab| {
        hosts
            .iter()
            .map(|h| {
                format!(
                    "--- {0} keepalived ---\n{1}\n--- {0} haproxy ---\n{2}",
                    h.name,
                    lab.log(&h.name, "keepalived"),
                    lab.log(&h.name, "haproxy")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };

    // The first election: both hosts start as BACKUP; the higher priority's shorter skew wins.
    let elected = wait_for(Duration::from_secs(20), || {
        lab.holds(&high, ifname, vip_addr)
    });
    assert!(
        elected.is_some(),
        "the VIP {vip_addr} never came up on the higher-priority host {high}\n{}",
        logs(&lab)
    );
    eprintln!(
        "first election: {high} (priority {}) holds {vip_addr} after {:.2} s",
        hosts[0].priority,
        elected.unwrap().as_secs_f64()
    );
    assert!(
        !lab.holds(&low, ifname, vip_addr),
        "both hosts hold the VIP\n{}",
        logs(&lab)
    );
    assert!(
        wait_for(Duration::from_secs(5), || lab.connects(vip_addr, port)).is_some(),
        "the VIP does not answer on {vip_addr}:{port} while {high} holds it\n{}",
        logs(&lab)
    );

    let mut times = Vec::new();
    let (mut master, mut backup) = (high.clone(), low.clone());
    for round in 1..=3 {
        // Kill the master's haproxy; measure until a TCP connect to the VIP succeeds.
        let start = Instant::now();
        lab.kill_haproxy(&master);
        let answered = wait_for(Duration::from_secs(30), || lab.connects(vip_addr, port));
        // Measured from just before the kill, so it includes reaping the dead haproxy.
        let took = start.elapsed();
        assert!(
            answered.is_some(),
            "round {round}: the VIP never answered again after {master}'s haproxy died\n{}",
            logs(&lab)
        );
        assert!(
            lab.holds(&backup, ifname, vip_addr),
            "round {round}: the VIP answers but {backup} does not hold it\n{}",
            logs(&lab)
        );
        assert!(
            !lab.holds(&master, ifname, vip_addr),
            "round {round}: {master} still holds the VIP after its haproxy died\n{}",
            logs(&lab)
        );
        // The connection went to the new master: the client's ARP entry for the VIP is its MAC.
        assert_eq!(
            lab.client_neighbour(vip_addr),
            Some(lab.mac(&backup, ifname)),
            "round {round}: the client does not reach the VIP at {backup}'s MAC address"
        );
        assert!(
            took <= bound,
            "round {round}: failover took {:.2} s, more than the {:.2} s the keepalived knobs allow",
            took.as_secs_f64(),
            bound.as_secs_f64()
        );
        eprintln!(
            "round {round}: {master}'s haproxy killed, VIP answered from {backup} after {:.2} s",
            took.as_secs_f64()
        );
        times.push(took);
        if round == 3 {
            break;
        }

        // Restart the dead haproxy: its keepalived leaves FAULT for BACKUP once the check passes
        // `rise` times, and (nopreempt) does not take the VIP back, even with a higher priority.
        let before = lab.log(&master, "keepalived").len();
        let cfg = dir.join(format!("{master}-haproxy.cfg"));
        lab.start(&master, "haproxy", &["-db", "-f", cfg.to_str().unwrap()]);
        let back = wait_for(Duration::from_secs(20), || {
            lab.log(&master, "keepalived")[before..].contains("Entering BACKUP STATE")
        });
        assert!(
            back.is_some(),
            "round {round}: {master}'s keepalived did not return to BACKUP after its haproxy \
             restarted\n{}",
            logs(&lab)
        );
        if round == 1 {
            // Give the recovered higher-priority host a few adverts to (wrongly) preempt.
            sleep(Duration::from_secs_f64(3.0 * advert_int));
            assert!(
                lab.holds(&backup, ifname, vip_addr) && !lab.holds(&master, ifname, vip_addr),
                "nopreempt: the VIP moved back to the recovered {master}\n{}",
                logs(&lab)
            );
        }
        std::mem::swap(&mut master, &mut backup);
    }

    times.sort();
    let median = times[times.len() / 2];
    eprintln!(
        "VIP failover (haproxy SIGKILL → TCP connect to {vip_addr}:{port} succeeds): median {:.2} s \
         over {} rounds ({}); test wall time {:.1} s",
        median.as_secs_f64(),
        times.len(),
        times
            .iter()
            .map(|t| format!("{:.2} s", t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", "),
        wall.elapsed().as_secs_f64()
    );

    // Cleanup, checked: no namespace and no process of the test is left.
    let names = lab.namespaces.clone();
    let pids = lab.pids.clone();
    drop(lab);
    let (_, list) = common::run(Command::new("ip").args(["netns", "list"]));
    for ns in &names {
        assert!(
            !list
                .lines()
                .any(|l| l.split_whitespace().next() == Some(ns)),
            "namespace {ns} is left after cleanup"
        );
    }
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} is left after cleanup"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
