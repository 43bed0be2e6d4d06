//! `pgtopo graph`: the topology as a picture — clients → VIP/balancers → poolers → primary and
//! standbys, sync vs async replication, standby clusters, failover monitors — in Mermaid (renders on
//! GitHub) or Graphviz DOT. One intermediate graph feeds both renderers so they never disagree.
//! What the stack plan decides (which servers a balancer listen lists) comes from `plan`, so the
//! picture shows what the emitted configs do.

use crate::model::{Cluster, FailoverManager, ListenTarget, PoolerTarget, Role, Topology};
use crate::plan;

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Database,
    Box,
    Round,
    Circle,
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Solid,
    Thick,
    Dashed,
    Dotted,
}

struct GNode {
    id: String,
    label: Vec<String>,
    shape: Shape,
    /// The cluster subgraph this node belongs to, if any.
    group: Option<usize>,
}

struct Edge {
    from: String,
    to: String,
    label: Option<String>,
    style: Style,
}

#[derive(Default)]
struct Graph {
    groups: Vec<(String, String)>,
    nodes: Vec<GNode>,
    edges: Vec<Edge>,
}

fn id(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("__")
}

impl Graph {
    fn node(
        &mut self,
        id: String,
        label: Vec<String>,
        shape: Shape,
        group: Option<usize>,
    ) -> String {
        self.nodes.push(GNode {
            id: id.clone(),
            label,
            shape,
            group,
        });
        id
    }

    fn edge(&mut self, from: &str, to: &str, label: Option<&str>, style: Style) {
        self.edges.push(Edge {
            from: from.to_owned(),
            to: to.to_owned(),
            label: label.map(str::to_owned),
            style,
        });
    }
}

fn node_id(c: &Cluster, n: &str) -> String {
    id(&[&c.name, n])
}

fn build(t: &Topology) -> Graph {
    let mut g = Graph::default();
    let clients = g.node(
        "clients".to_owned(),
        vec!["clients".to_owned()],
        Shape::Round,
        None,
    );
    for c in &t.clusters {
        let gi = g.groups.len();
        let mut title = format!("cluster {} · failover {}", c.name, c.failover.manager.value);
        if let Some(s) = c.synchronous_standby_names() {
            title.push_str(&format!(" · {s}"));
        }
        g.groups
            .push((id(&["cluster", &c.name]), title.replace('"', "'")));
        for n in &c.nodes {
            let mut label = vec![n.name.clone(), role_label(c, n.role.value)];
            if !n.failover {
                label[1].push_str(", never promoted");
            }
            if let Some(h) = &n.host {
                label.push(format!("{}:{}", h.value, n.port.value));
            }
            g.node(node_id(c, &n.name), label, Shape::Database, Some(gi));
        }
        // Replication: from the upstream (cascading) or the primary.
        if let Some(p) = c.primary() {
            for n in c.standbys() {
                let from = n
                    .upstream
                    .as_ref()
                    .map_or(p.name.as_str(), |u| u.value.as_str());
                let (label, style) = match n.role.value {
                    Role::Sync => ("sync", Style::Thick),
                    _ => ("async", Style::Dashed),
                };
                g.edge(&node_id(c, from), &node_id(c, &n.name), Some(label), style);
            }
        }
        if let Some(m) = &c.failover.monitor {
            let mon = g.node(
                id(&[&c.name, "monitor"]),
                vec![
                    "pg_auto_failover monitor".to_owned(),
                    format!("port {}", m.port.value),
                ],
                Shape::Box,
                Some(gi),
            );
            for n in &c.nodes {
                g.edge(&mon, &node_id(c, &n.name), Some("monitors"), Style::Dotted);
            }
        }
        if let (FailoverManager::Patroni, Some(dcs)) = (c.failover.manager.value, &c.failover.dcs) {
            let d = g.node(
                id(&[&c.name, "dcs"]),
                vec![
                    format!("{} ({} endpoints)", dcs.kind.value, dcs.endpoints.len()),
                    "leader lock".to_owned(),
                ],
                Shape::Box,
                Some(gi),
            );
            for n in &c.nodes {
                g.edge(&node_id(c, &n.name), &d, Some("patroni"), Style::Dotted);
            }
        }
        // Poolers and what they reach.
        let mut entry: Vec<String> = Vec::new();
        for p in &c.poolers {
            if p.target.value == PoolerTarget::Local {
                // One pooler per database host, each in front of its own node only.
                for n in &c.nodes {
                    let label = vec![
                        format!("{} on {}", p.name, n.name),
                        format!("{} · :{}", p.kind.value, n.local_pooler_port(p).value),
                    ];
                    let pid = g.node(
                        id(&[&c.name, "pooler", &p.name, &n.name]),
                        label,
                        Shape::Box,
                        Some(gi),
                    );
                    g.edge(&pid, &node_id(c, &n.name), None, Style::Solid);
                }
                continue;
            }
            let label = vec![
                p.name.clone(),
                format!("{} · {} · :{}", p.kind.value, p.target.value, p.port.value),
            ];
            let pid = g.node(
                id(&[&c.name, "pooler", &p.name]),
                label,
                Shape::Box,
                Some(gi),
            );
            for n in c.nodes.iter().filter(|n| match p.target.value {
                PoolerTarget::Primary => n.role.value == Role::Primary,
                PoolerTarget::Replicas => n.role.value != Role::Primary,
                PoolerTarget::Any | PoolerTarget::Local => true,
            }) {
                g.edge(&pid, &node_id(c, &n.name), None, Style::Solid);
            }
            entry.push(pid);
        }
        // Balancers: VIP → haproxy hosts → listens → local poolers or nodes.
        for b in &c.balancers {
            let vip = b.vip.as_ref().map(|v| {
                g.node(
                    id(&[&c.name, "vip"]),
                    vec![
                        format!("VIP {}", v.address.value),
                        format!("VRRP id {}", v.router_id.value),
                    ],
                    Shape::Circle,
                    None,
                )
            });
            let mut hosts: Vec<_> = b.hosts.iter().collect();
            hosts.sort_by_key(|h| std::cmp::Reverse(h.priority.value));
            for (i, h) in hosts.iter().enumerate() {
                let hid = g.node(
                    id(&[&c.name, "lb", &h.name]),
                    vec![
                        format!("haproxy {}", h.name),
                        format!("{} · priority {}", h.address.value, h.priority.value),
                    ],
                    Shape::Box,
                    None,
                );
                match &vip {
                    Some(v) => g.edge(
                        v,
                        &hid,
                        Some(if i == 0 { "holds" } else { "takes over" }),
                        if i == 0 { Style::Solid } else { Style::Dotted },
                    ),
                    None => entry.push(hid.clone()),
                }
                for l in &b.listens {
                    g.edge(
                        &hid,
                        &id(&[&c.name, "listen", &l.name]),
                        None,
                        if i == 0 { Style::Solid } else { Style::Dotted },
                    );
                }
            }
            if let Some(v) = vip {
                entry.push(v);
            }
            let local = c
                .poolers
                .iter()
                .find(|p| p.target.value == PoolerTarget::Local);
            for l in &b.listens {
                let mut label = vec![
                    format!("listen {} :{}", l.name, l.port.value),
                    format!("→ {}", l.target.value),
                ];
                if let Some(f) = &l.fallback {
                    label[1].push_str(&format!(" (fallback {})", f.value));
                }
                let lid = g.node(id(&[&c.name, "listen", &l.name]), label, Shape::Box, None);
                // The servers haproxy lists (the plan decides): the nodes declared in the role
                // draw solid, those that may take it after a failover dotted, since the health
                // check, not the list, picks among them at run time.
                for n in plan::endpoints::listen_candidates(c, l.target.value) {
                    let declared = match l.target.value {
                        ListenTarget::Primary => n.role.value == Role::Primary,
                        ListenTarget::Replicas => n.role.value != Role::Primary,
                        ListenTarget::Sync => n.role.value == Role::Sync,
                        ListenTarget::Async => n.role.value == Role::Async,
                        ListenTarget::Any => true,
                    };
                    let via = local.map_or_else(
                        || node_id(c, &n.name),
                        |p| id(&[&c.name, "pooler", &p.name, &n.name]),
                    );
                    let style = if declared {
                        Style::Solid
                    } else {
                        Style::Dotted
                    };
                    g.edge(&lid, &via, None, style);
                }
            }
        }
        // Without poolers or balancers clients connect to the nodes themselves: writes to the
        // primary, reads to any hot standby.
        if entry.is_empty() && !c.is_standby_cluster() {
            if let Some(p) = c.primary() {
                g.edge(
                    &clients,
                    &node_id(c, &p.name),
                    Some("read-write"),
                    Style::Solid,
                );
                for n in c.standbys() {
                    g.edge(
                        &clients,
                        &node_id(c, &n.name),
                        Some("read-only"),
                        Style::Dotted,
                    );
                }
            }
        }
        for e in entry {
            g.edge(&clients, &e, None, Style::Solid);
        }
        if let Some(m) = &c.monitoring {
            if let Some(port) = &m.prometheus_port {
                let prom = g.node(
                    id(&[&c.name, "prometheus"]),
                    vec!["Prometheus".to_owned(), format!(":{}", port.value)],
                    Shape::Box,
                    None,
                );
                for n in &c.nodes {
                    g.edge(&prom, &node_id(c, &n.name), Some("scrapes"), Style::Dotted);
                }
            }
        }
    }
    // Backup repositories: the primary archives WAL and is backed up into its cluster's; a
    // restored cluster starts from its source's.
    let repo_id = |c: &Cluster| id(&[&c.name, "repository"]);
    for c in &t.clusters {
        let Some(r) = c.backup.as_ref().and_then(|b| b.repository()) else {
            continue;
        };
        let where_ = r
            .bucket
            .as_ref()
            .or(r.host.as_ref())
            .or(r.path.as_ref())
            .map_or_else(String::new, |v| format!(" {}", v.value));
        let repo = g.node(
            repo_id(c),
            vec![
                format!("backups of {}", c.name),
                format!("{}{where_}", r.kind.value),
            ],
            Shape::Box,
            None,
        );
        if let Some(p) = c.primary() {
            g.edge(
                &node_id(c, &p.name),
                &repo,
                Some("WAL + backups"),
                Style::Dotted,
            );
        }
    }
    for c in &t.clusters {
        let (Some(r), Some(p)) = (&c.restore, c.primary()) else {
            continue;
        };
        let Some(src) = t
            .cluster(&r.from.value)
            .filter(|s| s.backup.as_ref().and_then(|b| b.repository()).is_some())
        else {
            continue;
        };
        let label = r.time.as_ref().map_or_else(
            || "restore".to_owned(),
            |t| format!("restore to {}", t.value),
        );
        g.edge(
            &repo_id(src),
            &node_id(c, &p.name),
            Some(&label),
            Style::Dashed,
        );
    }
    // Standby clusters follow their source's primary.
    for c in &t.clusters {
        let (Some(src), Some(p)) = (
            c.replica_of.as_ref().and_then(|r| t.cluster(&r.value)),
            c.primary(),
        ) else {
            continue;
        };
        if let Some(sp) = src.primary() {
            g.edge(
                &node_id(src, &sp.name),
                &node_id(c, &p.name),
                Some("standby cluster (async)"),
                Style::Dashed,
            );
        }
    }
    g
}

fn role_label(c: &Cluster, r: Role) -> String {
    match (r, c.is_standby_cluster()) {
        (Role::Primary, true) => "standby leader".to_owned(),
        (Role::Primary, false) => "primary".to_owned(),
        (Role::Sync, _) => "sync standby".to_owned(),
        (Role::Async, _) => "async standby".to_owned(),
    }
}

/// Mermaid `flowchart` text.
pub fn mermaid(t: &Topology) -> String {
    let g = build(t);
    let q = |s: &str| s.replace('"', "#quot;");
    let decl = |n: &GNode| {
        let label = q(&n.label.join("<br/>"));
        match n.shape {
            Shape::Database => format!("{}[(\"{label}\")]", n.id),
            Shape::Box => format!("{}[\"{label}\"]", n.id),
            Shape::Round => format!("{}([\"{label}\"])", n.id),
            Shape::Circle => format!("{}((\"{label}\"))", n.id),
        }
    };
    let mut out = String::from("flowchart LR\n");
    for n in g.nodes.iter().filter(|n| n.group.is_none()) {
        out.push_str(&format!("    {}\n", decl(n)));
    }
    for (gi, (gid, title)) in g.groups.iter().enumerate() {
        out.push_str(&format!("    subgraph {gid}[\"{}\"]\n", q(title)));
        for n in g.nodes.iter().filter(|n| n.group == Some(gi)) {
            out.push_str(&format!("        {}\n", decl(n)));
        }
        out.push_str("    end\n");
    }
    for e in &g.edges {
        let arrow = match (e.style, &e.label) {
            (Style::Solid, None) => "-->".to_owned(),
            (Style::Solid, Some(l)) => format!("-->|\"{}\"|", q(l)),
            (Style::Thick, None) => "==>".to_owned(),
            (Style::Thick, Some(l)) => format!("==>|\"{}\"|", q(l)),
            (Style::Dashed | Style::Dotted, None) => "-.->".to_owned(),
            (Style::Dashed | Style::Dotted, Some(l)) => format!("-.->|\"{}\"|", q(l)),
        };
        out.push_str(&format!("    {} {arrow} {}\n", e.from, e.to));
    }
    out
}

/// Graphviz DOT text.
pub fn dot(t: &Topology) -> String {
    let g = build(t);
    let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let decl = |n: &GNode| {
        let shape = match n.shape {
            Shape::Database => "cylinder",
            Shape::Box => "box",
            Shape::Round => "ellipse",
            Shape::Circle => "circle",
        };
        format!(
            "\"{}\" [label=\"{}\", shape={shape}];",
            n.id,
            q(&n.label.join("\\n")).replace("\\\\n", "\\n")
        )
    };
    let mut out =
        String::from("digraph topology {\n    rankdir=LR;\n    node [fontname=\"Helvetica\"];\n");
    for n in g.nodes.iter().filter(|n| n.group.is_none()) {
        out.push_str(&format!("    {}\n", decl(n)));
    }
    for (gi, (gid, title)) in g.groups.iter().enumerate() {
        out.push_str(&format!(
            "    subgraph \"cluster_{gid}\" {{\n        label=\"{}\";\n",
            q(title)
        ));
        for n in g.nodes.iter().filter(|n| n.group == Some(gi)) {
            out.push_str(&format!("        {}\n", decl(n)));
        }
        out.push_str("    }\n");
    }
    for e in &g.edges {
        let style = match e.style {
            Style::Solid => "solid",
            Style::Thick => "bold",
            Style::Dashed => "dashed",
            Style::Dotted => "dotted",
        };
        let label = e
            .label
            .as_ref()
            .map_or_else(String::new, |l| format!(", label=\"{}\"", q(l)));
        out.push_str(&format!(
            "    \"{}\" -> \"{}\" [style={style}{label}];\n",
            e.from, e.to
        ));
    }
    out.push_str("}\n");
    out
}
