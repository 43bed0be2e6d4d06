//! Phase 2b: merged syntax tree → typed, fully defaulted [`Topology`].
//!
//! Every default of the language lives in this file (and is listed in docs/language.md), so that
//! emitters never invent one of their own. Problems of form (unknown names, wrong types, missing
//! required values) are reported here; problems of meaning are left to `check`.

use indexmap::IndexMap;

use crate::diag::{codes, did_you_mean, Diagnostic, Span};
use crate::model::quantity::{parse_bytes, parse_quantity};
use crate::model::reader::{keyword_entry, looks_like_secret_key, Reader};
use crate::model::types::*;
use crate::syntax::{Node as SNode, Value};

const TOP_LEVEL: &[&str] = &["topology", "targets", "cluster", "workload", "env"];

pub fn lower<'a>(
    root: impl IntoIterator<Item = &'a SNode>,
    env: Option<&str>,
    envs: Vec<Spanned<String>>,
    d: &mut Vec<Diagnostic>,
) -> Topology {
    let mut targets = Vec::new();
    let mut targets_node: Option<&SNode> = None;
    let mut clusters = Vec::new();
    let mut workloads = Vec::new();
    let mut name: Option<Spanned<String>> = None;
    let mut name_node: Option<&SNode> = None;
    for n in root {
        match n.name.as_str() {
            "topology" => {
                if let Some(first) = name_node {
                    d.push(
                        Diagnostic::error(codes::PT006, "`topology` is given twice")
                            .with_span(n.name_span, "second one here")
                            .with_related(first.name_span, "first one here")
                            .with_help("a topology has one name; keep one `topology` line"),
                    );
                    continue;
                }
                name_node = Some(n);
                let mut r = Reader::new(n);
                name = name_arg(&mut r, d, "a name", "topology \"orders\"");
                r.finish(d);
            }
            "targets" => {
                if let Some(first) = targets_node {
                    d.push(
                        Diagnostic::error(codes::PT006, "`targets` is given twice")
                            .with_span(n.name_span, "second one here")
                            .with_related(first.name_span, "first one here")
                            .with_help("list every target in one `targets` line"),
                    );
                    continue;
                }
                targets_node = Some(n);
                let mut r = Reader::new(n);
                for a in r.all_args() {
                    if let Some(t) = keyword_entry(d, a, "target", Target::parse, Target::ALL) {
                        targets.push(t);
                    }
                }
                r.finish(d);
            }
            "cluster" => {
                if let Some(c) = lower_cluster(n, d) {
                    clusters.push(c);
                }
            }
            "workload" => {
                if let Some(w) = lower_workload(n, d) {
                    workloads.push(w);
                }
            }
            // Env blocks are read by `env_names` and merged in before lowering (`env::apply`);
            // the base is lowered with them still in the document.
            "env" => {}
            other => {
                let mut diag =
                    Diagnostic::error(codes::PT001, format!("unknown top-level node `{other}`"))
                        .with_span(n.name_span, "unknown node");
                diag = match did_you_mean(other, TOP_LEVEL.iter().copied()) {
                    Some(s) => diag.with_help(format!("did you mean `{s}`?")),
                    None => diag.with_help(
                        "a topology holds `topology`, `targets`, `cluster`, `workload` and `env` nodes",
                    ),
                };
                d.push(diag);
            }
        }
    }
    follow_source_charts(&mut clusters);
    Topology {
        env: env.map(str::to_owned),
        name,
        targets,
        clusters,
        workloads,
        envs,
    }
}

fn name_arg(
    r: &mut Reader,
    d: &mut Vec<Diagnostic>,
    what: &str,
    example: &str,
) -> Option<Spanned<String>> {
    let name = r.string_arg(d, 0, what);
    if name.is_none() && r.node.args.is_empty() {
        r.require_arg(d, what, example);
    }
    name
}

fn lower_cluster(n: &SNode, d: &mut Vec<Diagnostic>) -> Option<Cluster> {
    let mut r = Reader::new(n);
    let name = name_arg(&mut r, d, "a name", "cluster \"main\" { … }");
    let replica_of = r.string(d, "replica-of");

    // postgres
    let (version, image, image_span, pg_span) = match r.child(d, "postgres") {
        Some(p) => {
            let mut pr = Reader::new(p);
            let version = pr.int::<u32>(d, "version");
            let image = pr.string(d, "image");
            pr.finish(d);
            (version, image, p.span, p.span)
        }
        None => (None, None, n.name_span, n.name_span),
    };
    let version = version.unwrap_or(Spanned::new(DEFAULT_PG_VERSION, pg_span));

    let namespace = r.child(d, "namespace").and_then(|ns| {
        let mut nr = Reader::new(ns);
        let v = nr.string_arg(d, 0, "namespace");
        if v.is_none() && ns.args.is_empty() {
            nr.require_arg(d, "a namespace name", "namespace \"db\"");
        }
        nr.finish(d);
        v
    });

    let mut labels = IndexMap::new();
    if let Some(l) = r.child(d, "labels") {
        for (k, e) in &l.props {
            match &e.value {
                Value::String(s) => {
                    labels.insert(k.clone(), Spanned::new(s.clone(), e.span));
                }
                other => d.push(
                    Diagnostic::error(
                        codes::PT003,
                        format!("label `{k}` must be a string, found {}", other.type_name()),
                    )
                    .with_span(e.span, "expected a string")
                    .with_help(format!(
                        "Kubernetes label values are strings: write {k}=\"{}\"",
                        plain(other)
                    )),
                ),
            }
        }
        let mut lr = Reader::new(l);
        // Every property was consumed above; only arguments and children are unexpected here.
        lr.all_args();
        for a in &l.args {
            d.push(
                Diagnostic::error(
                    codes::PT003,
                    "`labels` takes key=value properties, not arguments",
                )
                .with_span(a.span, "not a key=value pair")
                .with_help("write labels as `labels environment=\"production\" team=\"db\"`"),
            );
        }
        finish_children_only(lr, l, d);
    }

    let credentials = {
        let (secret, env_file, span) = match r.child(d, "credentials") {
            Some(c) => {
                let mut cr = Reader::new(c);
                let s = cr.string(d, "secret");
                let e = cr.string(d, "env-file");
                cr.finish(d);
                (s, e, c.span)
            }
            None => (None, None, n.name_span),
        };
        let cname = name.as_ref().map_or("cluster", |s| s.value.as_str());
        Credentials {
            secret: secret.unwrap_or_else(|| Spanned::new(format!("{cname}-credentials"), span)),
            env_file: env_file.unwrap_or_else(|| Spanned::new(".env".to_owned(), span)),
            span,
        }
    };

    let roles = lower_roles(r.children("role"), d);
    let databases = r
        .children("database")
        .filter_map(|db| lower_database(db, d))
        .collect();
    let hba = r.child(d, "hba").map(|h| lower_hba(h, d));
    let tls = r.child(d, "tls").and_then(|t| lower_tls(t, d));

    let failover = lower_failover(r.child(d, "failover"), n, d);
    // `filter_map` gives no size hint, so the list is sized here: grown by doubling, a cluster
    // of a hundred nodes was copied seven times.
    let mut nodes_raw: Vec<Node> = Vec::with_capacity(n.children.len());
    nodes_raw.extend(r.children("node").filter_map(|x| lower_node(x, d)));
    let replication = lower_replication(r.child(d, "replication"), n, &nodes_raw, d);

    let mut parameters = IndexMap::new();
    if let Some(p) = r.child(d, "parameters") {
        let mut pr = Reader::new(p);
        pr.finish_props_and_args(d);
        for c in &p.children {
            let value = match c.args.as_slice() {
                [one] => match &one.value {
                    Value::String(s) => Some(ParamValue::String(s.clone())),
                    Value::Int(i) => i64::try_from(*i).ok().map(ParamValue::Int),
                    Value::Float(f) => Some(ParamValue::Float(*f)),
                    Value::Bool(b) => Some(ParamValue::Bool(*b)),
                    Value::Null => None,
                },
                _ => None,
            };
            let extra = !c.props.is_empty() || !c.children.is_empty();
            match value {
                Some(v) if !extra => {
                    parameters.insert(c.name.clone(), Param { value: v, span: c.span });
                }
                _ => d.push(
                    Diagnostic::error(codes::PT003, format!("parameter `{}` needs exactly one value", c.name))
                        .with_span(c.span, "expected `name value`")
                        .with_help("write one parameter per line as PostgreSQL spells it: `shared_buffers \"128MB\"`"),
                ),
            }
        }
    }

    let mut nodes = nodes_raw;
    let kept_nodes = r.child(d, "nodes").map(|k| {
        let mut kr = Reader::new(k);
        let names: Vec<Spanned<String>> = kr
            .all_args()
            .iter()
            .filter_map(|a| match &a.value {
                Value::String(s) => Some(Spanned::new(s.clone(), a.span)),
                other => {
                    d.push(
                        Diagnostic::error(
                            codes::PT003,
                            format!("`nodes` lists node names, found {}", other.type_name()),
                        )
                        .with_span(a.span, "expected a node name")
                        .with_help("write `nodes \"db1\" \"db2\"`"),
                    );
                    None
                }
            })
            .collect();
        kr.finish(d);
        KeptNodes {
            names,
            span: k.span,
        }
    });
    if let Some(k) = &kept_nodes {
        nodes.retain(|node| k.names.iter().any(|s| s.value == node.name));
    }

    let resources = lower_resources(r.child(d, "resources"), d);

    let storage = match r.child(d, "storage") {
        Some(s) => {
            let mut sr = Reader::new(s);
            let size = sr.string(d, "size");
            let class = sr.string(d, "class");
            sr.finish(d);
            if let Some(sz) = &size {
                quantity_ok(d, sz, "storage size");
            }
            Storage {
                size_declared: size.is_some(),
                size: size.unwrap_or_else(|| Spanned::new(DEFAULT_STORAGE.to_owned(), s.span)),
                class,
                span: s.span,
            }
        }
        None => Storage {
            size_declared: false,
            size: Spanned::new(DEFAULT_STORAGE.to_owned(), n.name_span),
            class: None,
            span: n.name_span,
        },
    };

    let pdb = r.child(d, "pdb").and_then(|p| {
        let mut pr = Reader::new(p);
        let m = pr.int::<u32>(d, "min-available");
        if m.is_none() && !p.props.contains_key("min-available") {
            pr.require_prop(d, "min-available", "pdb min-available=1");
        }
        pr.finish(d);
        Some(Pdb {
            min_available: m?,
            span: p.span,
        })
    });

    let poolers = r
        .children("pooler")
        .filter_map(|p| lower_pooler(p, d))
        .collect();
    let balancers = r
        .children("balancer")
        .filter_map(|b| lower_balancer(b, d))
        .collect();
    let monitoring = r.child(d, "monitoring").map(|m| lower_monitoring(m, d));
    let backup = r.child(d, "backup").map(|b| lower_backup(b, d));
    let restore = r.child(d, "restore").and_then(|n| {
        let mut rr = Reader::new(n);
        let from = rr.string(d, "from");
        if from.is_none() && !n.props.contains_key("from") {
            rr.require_prop(d, "from", "restore from=\"main\"");
        }
        let time = rr.string(d, "time");
        rr.finish(d);
        Some(Restore {
            from: from?,
            time,
            span: n.span,
        })
    });
    let helm_chart = r.child(d, "helm").and_then(|h| {
        let mut hr = Reader::new(h);
        let c = hr.keyword(d, "chart", HelmChart::parse, HelmChart::ALL);
        hr.finish(d);
        c
    });
    r.finish(d);

    let name = name?;
    let image_declared = image.is_some();
    let image = image.unwrap_or_else(|| {
        Spanned::new(
            default_image(failover.manager.value, version.value),
            image_span,
        )
    });
    let helm = match helm_chart {
        Some(chart) => Helm {
            chart,
            chart_declared: true,
        },
        None => Helm {
            chart: Spanned::new(
                default_chart(failover.manager.value, replica_of.is_some(), nodes.len()),
                n.name_span,
            ),
            chart_declared: false,
        },
    };
    Some(Cluster {
        namespace: namespace.unwrap_or_else(|| Spanned::new(name.value.clone(), name.span)),
        name: name.value,
        span: n.span,
        name_span: n.name_span,
        replica_of,
        postgres: Postgres {
            version,
            image,
            image_declared,
            span: pg_span,
        },
        labels,
        credentials,
        roles,
        databases,
        hba,
        tls,
        failover,
        replication,
        parameters,
        nodes,
        resources,
        storage,
        pdb,
        poolers,
        balancers,
        monitoring,
        backup,
        restore,
        helm,
        kept_nodes,
    })
}

/// The major version when `postgres version=` is not written.
pub const DEFAULT_PG_VERSION: u32 = 17;
pub const DEFAULT_STORAGE: &str = "10Gi";
/// Patroni's REST API port when a node does not write `patroni-port=` (Patroni's own default).
pub const DEFAULT_PATRONI_PORT: u16 = crate::catalog::PATRONI_PORT;

pub use crate::catalog::default_postgres_image as default_image;

/// A standby cluster that names no chart follows a CloudNativePG source on CloudNativePG (a
/// replica cluster, which streams with the source's own certificates and reads its object store),
/// whatever its size: a one-node standby of a CloudNativePG cluster would otherwise default to
/// bitnami/postgresql, and change charts between an env that keeps one node and one that keeps
/// two. Repeated so that a chain of standby clusters follows its first source.
fn follow_source_charts(clusters: &mut [Cluster]) {
    for _ in 0..clusters.len() {
        let cnpg: std::collections::HashSet<String> = clusters
            .iter()
            .filter(|c| c.helm.chart.value == HelmChart::Cnpg)
            .map(|c| c.name.clone())
            .collect();
        let mut changed = false;
        for c in clusters.iter_mut() {
            let follows = c
                .replica_of
                .as_ref()
                .is_some_and(|r| cnpg.contains(&r.value));
            if follows && !c.helm.chart_declared && c.helm.chart.value != HelmChart::Cnpg {
                c.helm.chart.value = HelmChart::Cnpg;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// The Helm chart for a cluster that does not name one: repmgr clusters map onto bitnami's
/// postgresql-ha (which is built on repmgr), a one-node standby cluster onto bitnami/postgresql
/// (unless its source is on CloudNativePG: `follow_source_charts`), and everything else onto
/// CloudNativePG, whose operator does its own failover.
pub fn default_chart(manager: FailoverManager, standby: bool, nodes: usize) -> HelmChart {
    if standby && nodes <= 1 {
        HelmChart::BitnamiPostgresql
    } else if manager == FailoverManager::Repmgr {
        HelmChart::BitnamiPostgresqlHa
    } else {
        HelmChart::Cnpg
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn quantity_ok(d: &mut Vec<Diagnostic>, q: &Spanned<String>, what: &str) {
    if parse_quantity(&q.value).is_none() {
        d.push(
            Diagnostic::error(
                codes::PT003,
                format!("{what} \"{}\" is not a Kubernetes quantity", q.value),
            )
            .with_span(q.span, "not a quantity")
            .with_help(
                "write a number with an optional suffix: \"500m\", \"2\", \"512Mi\", \"10Gi\"",
            ),
        );
    }
}

fn finish_children_only(r: Reader, node: &SNode, d: &mut Vec<Diagnostic>) {
    // Properties were all consumed by the caller; reuse `finish` for children by filtering.
    let mut tmp = Vec::new();
    r.finish(&mut tmp);
    d.extend(tmp.into_iter().filter(|x| x.code != codes::PT002));
    let _ = node;
}

impl<'n> Reader<'n> {
    /// For nodes whose children are free-form (parameters): check only properties and arguments.
    pub fn finish_props_and_args(&mut self, d: &mut Vec<Diagnostic>) {
        for (key, e) in &self.node.props {
            if looks_like_secret_key(key) {
                continue;
            }
            d.push(
                Diagnostic::error(
                    codes::PT002,
                    format!("unknown property `{key}` on `{}`", self.node.name),
                )
                .with_span(e.span, "unknown property")
                .with_help(format!(
                    "`{}` takes one child per setting instead",
                    self.node.name
                )),
            );
        }
        for a in &self.node.args {
            d.push(
                Diagnostic::error(
                    codes::PT003,
                    format!("unexpected argument {} on `{}`", a.value, self.node.name),
                )
                .with_span(a.span, "not expected here")
                .with_help(format!("`{}` takes no arguments", self.node.name)),
            );
        }
    }
}

fn lower_failover(f: Option<&SNode>, cluster: &SNode, d: &mut Vec<Diagnostic>) -> Failover {
    let Some(f) = f else {
        return Failover {
            manager: Spanned::new(FailoverManager::None, cluster.name_span),
            monitor: None,
            dcs: None,
            ttl: Spanned::new(30, cluster.name_span),
            loop_wait: Spanned::new(10, cluster.name_span),
            retry_timeout: Spanned::new(10, cluster.name_span),
            maximum_lag_on_failover: 1 << 20,
            rest_api_auth: Spanned::new(true, cluster.name_span),
            failsafe: None,
            span: cluster.name_span,
        };
    };
    let mut r = Reader::new(f);
    let manager = match r.arg(0) {
        Some(e) => keyword_entry(
            d,
            e,
            "failover manager",
            FailoverManager::parse,
            FailoverManager::ALL,
        ),
        None => {
            r.require_arg(d, "a manager", "failover \"patroni\"");
            None
        }
    }
    .unwrap_or(Spanned::new(FailoverManager::None, f.name_span));
    let ttl = r.int::<u32>(d, "ttl").unwrap_or(Spanned::new(30, f.span));
    let loop_wait = r
        .int::<u32>(d, "loop-wait")
        .unwrap_or(Spanned::new(10, f.span));
    let retry_timeout = r
        .int::<u32>(d, "retry-timeout")
        .unwrap_or(Spanned::new(10, f.span));
    let max_lag = bytes_prop(&mut r, d, "maximum-lag-on-failover").map_or(1 << 20, |s| s.value);
    let monitor = r.child(d, "monitor").map(|m| {
        let mut mr = Reader::new(m);
        let port = mr
            .int::<u16>(d, "port")
            .unwrap_or(Spanned::new(5432, m.span));
        let storage = mr.string(d, "storage");
        if let Some(s) = &storage {
            quantity_ok(d, s, "monitor storage");
        }
        mr.finish(d);
        Monitor {
            port,
            storage: storage.unwrap_or_else(|| Spanned::new("1Gi".to_owned(), m.span)),
            span: m.span,
        }
    });
    let monitor = match (manager.value, monitor) {
        (FailoverManager::PgAutoFailover, None) => Some(Monitor {
            port: Spanned::new(5432, f.span),
            storage: Spanned::new("1Gi".to_owned(), f.span),
            span: f.span,
        }),
        (_, m) => m,
    };
    // Patroni's REST API asks for a password for every change unless `rest-api auth=#false` is
    // written: anyone who reaches an unauthenticated API can reconfigure or fail over the cluster.
    let rest_api_auth = r
        .child(d, "rest-api")
        .and_then(|x| {
            let mut xr = Reader::new(x);
            let v = xr.prop("auth").and_then(|e| match e.value {
                Value::Bool(b) => Some(Spanned::new(b, e.span)),
                _ => {
                    d.push(bool_expected("auth", e));
                    None
                }
            });
            xr.finish(d);
            v
        })
        .unwrap_or(Spanned::new(true, f.span));
    let failsafe = r.child(d, "failsafe").and_then(|x| flag_child(x, d));
    let dcs = r.child(d, "dcs").map(|x| {
        let mut xr = Reader::new(x);
        let kind = xr
            .string_arg(d, 0, "dcs kind")
            .unwrap_or(Spanned::new("etcd".to_owned(), x.span));
        if kind.value != "etcd" && kind.value != "etcd3" {
            d.push(
                Diagnostic::error(codes::PT005, format!("unknown dcs \"{}\"", kind.value))
                    .with_span(kind.span, "not a supported DCS")
                    .with_help("pgtopo supports dcs \"etcd\" (Patroni's etcd3 API)"),
            );
        }
        let endpoints = xr
            .children("endpoint")
            .filter_map(|e| {
                let mut er = Reader::new(e);
                let v = er.string_arg(d, 0, "endpoint");
                if v.is_none() && e.args.is_empty() {
                    er.require_arg(d, "a host:port", "endpoint \"10.0.0.31:2379\"");
                }
                er.finish(d);
                v
            })
            .collect();
        xr.finish(d);
        Dcs {
            kind,
            endpoints,
            span: x.span,
        }
    });
    r.finish(d);
    Failover {
        manager,
        monitor,
        dcs,
        ttl,
        loop_wait,
        retry_timeout,
        maximum_lag_on_failover: max_lag,
        rest_api_auth,
        failsafe,
        span: f.span,
    }
}

fn bool_expected(key: &str, e: &crate::syntax::Entry) -> Diagnostic {
    Diagnostic::error(
        codes::PT003,
        format!(
            "`{key}` must be #true or #false, found {}",
            e.value.type_name()
        ),
    )
    .with_span(e.span, "expected a boolean")
    .with_help(format!("write `{key}=#true` or `{key}=#false`"))
}

/// A switch written as a child with an optional boolean argument: `failsafe` or `failsafe #true`.
fn flag_child(x: &SNode, d: &mut Vec<Diagnostic>) -> Option<Spanned<bool>> {
    let mut xr = Reader::new(x);
    let v = match xr.arg(0) {
        None => Some(Spanned::new(true, x.span)),
        Some(e) => match e.value {
            Value::Bool(b) => Some(Spanned::new(b, e.span)),
            _ => {
                d.push(
                    Diagnostic::error(
                        codes::PT003,
                        format!(
                            "`{}` must be #true or #false, found {}",
                            x.name,
                            e.value.type_name()
                        ),
                    )
                    .with_span(e.span, "expected a boolean")
                    .with_help(format!("write `{} #true`", x.name)),
                );
                None
            }
        },
    };
    xr.finish(d);
    v
}

/// `connection-limit=N`: -1 (PostgreSQL's "no limit") or more.
fn connection_limit(r: &mut Reader, d: &mut Vec<Diagnostic>) -> Option<Spanned<i32>> {
    let v = r.int::<i32>(d, "connection-limit")?;
    if v.value < -1 {
        d.push(
            Diagnostic::error(
                codes::PT003,
                format!("`connection-limit` = {} is out of range", v.value),
            )
            .with_span(v.span, "below -1")
            .with_help("write a number of connections, or -1 for no limit"),
        );
        return None;
    }
    Some(v)
}

/// `role` nodes, merged by name: a role written twice (in the base, or by an env patch that adds
/// a second line) keeps the first one's place and takes the later one's properties.
fn lower_roles<'a>(
    nodes: impl Iterator<Item = &'a SNode>,
    d: &mut Vec<Diagnostic>,
) -> Vec<RoleDecl> {
    let mut roles: Vec<RoleDecl> = Vec::new();
    for n in nodes {
        let mut r = Reader::new(n);
        let name = name_arg(&mut r, d, "a name", "role \"app\" login=#true");
        let login = r.bool(d, "login");
        let limit = connection_limit(&mut r, d);
        let member_of = r.string(d, "member-of").map(|m| {
            m.value
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| Spanned::new(x.to_owned(), m.span))
                .collect::<Vec<_>>()
        });
        r.finish(d);
        let Some(name) = name else { continue };
        match roles.iter_mut().find(|x| x.name == name.value) {
            Some(prev) => {
                if let Some(l) = login {
                    prev.login = l;
                }
                if limit.is_some() {
                    prev.connection_limit = limit;
                }
                if let Some(m) = member_of {
                    prev.member_of = m;
                }
            }
            None => roles.push(RoleDecl {
                login: login.unwrap_or(false),
                connection_limit: limit,
                member_of: member_of.unwrap_or_default(),
                span: n.span,
                name_span: name.span,
                name: name.value,
            }),
        }
    }
    roles
}

fn lower_database(db: &SNode, d: &mut Vec<Diagnostic>) -> Option<Database> {
    let mut dr = Reader::new(db);
    let dname = name_arg(
        &mut dr,
        d,
        "a database name",
        "database \"app\" owner=\"app\"",
    );
    let owner = dr.string(d, "owner");
    let connection_limit = connection_limit(&mut dr, d);
    let mut extensions: Vec<Spanned<String>> = Vec::new();
    for e in dr.children("extension") {
        let mut er = Reader::new(e);
        let v = er.string_arg(d, 0, "extension");
        if v.is_none() && e.args.is_empty() {
            er.require_arg(d, "a name", "extension \"pgcrypto\"");
        }
        er.finish(d);
        if let Some(v) = v {
            // An extension named twice (the base and an env) is created once.
            if !extensions.iter().any(|x| x.value == v.value) {
                extensions.push(v);
            }
        }
    }
    dr.finish(d);
    Some(Database {
        name: dname?.value,
        owner,
        connection_limit,
        extensions,
        span: db.span,
    })
}

/// Whether `s` is an address pg_hba.conf takes in a rule: a CIDR (`10.0.0.0/8`, `::1/128`) or
/// `all`.
pub fn is_hba_address(s: &str) -> bool {
    if s == "all" {
        return true;
    }
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

fn lower_hba(h: &SNode, d: &mut Vec<Diagnostic>) -> Hba {
    let mut hr = Reader::new(h);
    // Both kinds of rule are read in one pass: their order is the order pg_hba.conf matches in.
    hr.children("allow").for_each(drop);
    hr.children("reject").for_each(drop);
    let mut rules = Vec::new();
    for c in &h.children {
        let action = match c.name.as_str() {
            "allow" => HbaAction::Allow,
            "reject" => HbaAction::Reject,
            _ => continue,
        };
        let mut r = Reader::new(c);
        let all = |span| Spanned::new("all".to_owned(), span);
        let database = r.string(d, "database").unwrap_or_else(|| all(c.span));
        let user = r.string(d, "user").unwrap_or_else(|| all(c.span));
        let address = r.string(d, "address");
        if address.is_none() && !c.props.contains_key("address") {
            r.require_prop(
                d,
                "address",
                "allow database=\"app\" user=\"app\" address=\"10.0.0.0/16\"",
            );
        }
        if let Some(a) = &address {
            if !is_hba_address(&a.value) {
                d.push(
                    Diagnostic::error(codes::PT003, format!("address \"{}\" is not a CIDR", a.value))
                        .with_span(a.span, "expected ADDR/PREFIX")
                        .with_help("write a network as ADDR/PREFIX, e.g. \"10.0.0.0/16\" or \"10.0.9.15/32\", or \"all\""),
                );
            }
        }
        // Only `allow` authenticates; a `reject` takes no method.
        let method = if action == HbaAction::Allow {
            match r.prop("method") {
                None => Some(Spanned::new(HbaMethod::ScramSha256, c.span)),
                Some(e) => match &e.value {
                    Value::String(m) if matches!(m.as_str(), "trust" | "password" | "md5") => {
                        d.push(
                            Diagnostic::error(codes::PT005, format!("method \"{m}\" is not allowed"))
                                .with_span(e.span, "unsafe authentication method")
                                .with_help(match m.as_str() {
                                    "trust" => "`trust` lets anyone who reaches the port log in as any role; use the default scram-sha-256 or method=\"cert\"",
                                    _ => "`password` sends the password in clear and `md5` stores a replayable hash; use the default scram-sha-256 or method=\"cert\"",
                                }),
                        );
                        None
                    }
                    _ => keyword_entry(d, e, "method", HbaMethod::parse, HbaMethod::ALL),
                },
            }
        } else {
            Some(Spanned::new(HbaMethod::ScramSha256, c.span))
        };
        r.finish(d);
        if let (Some(address), Some(method)) = (address, method) {
            rules.push(HbaRule {
                action,
                database,
                user,
                address,
                method,
                span: c.span,
            });
        }
    }
    hr.finish(d);
    Hba {
        rules,
        span: h.span,
    }
}

fn lower_tls(t: &SNode, d: &mut Vec<Diagnostic>) -> Option<Tls> {
    let mut r = Reader::new(t);
    let mode = r.keyword(d, "mode", TlsMode::parse, TlsMode::ALL);
    if mode.is_none() && !t.props.contains_key("mode") {
        r.require_prop(d, "mode", "tls mode=\"require\" secret=\"db-tls\"");
    }
    let secret = r.string(d, "secret");
    let dir = r.string(d, "dir");
    r.finish(d);
    Some(Tls {
        mode: mode?,
        secret,
        dir,
        span: t.span,
    })
}

fn bytes_prop(r: &mut Reader, d: &mut Vec<Diagnostic>, key: &'static str) -> Option<Spanned<u64>> {
    let e = r.prop(key)?;
    let v = match &e.value {
        Value::Int(i) => u64::try_from(*i).ok(),
        Value::String(s) => parse_bytes(s),
        _ => None,
    };
    if v.is_none() {
        d.push(
            Diagnostic::error(
                codes::PT003,
                format!("`{key}` must be a byte size, found {}", e.value),
            )
            .with_span(e.span, "expected a size")
            .with_help("write a size as PostgreSQL does, e.g. \"16MB\", or a number of bytes"),
        );
    }
    v.map(|v| Spanned::new(v, e.span))
}

fn lower_replication(
    r: Option<&SNode>,
    cluster: &SNode,
    nodes: &[Node],
    d: &mut Vec<Diagnostic>,
) -> Replication {
    let has_sync = nodes.iter().any(|n| n.role.value == Role::Sync);
    let implied = |span: Span| Synchronous {
        method: Spanned::new(SyncMethod::Any, span),
        count: Spanned::new(1, span),
        declared: false,
        strict: None,
        span,
    };
    let Some(node) = r else {
        return Replication {
            synchronous: has_sync.then(|| implied(cluster.name_span)),
            slots: false,
            span: cluster.name_span,
        };
    };
    let mut rr = Reader::new(node);
    let synchronous = rr.child(d, "synchronous").map(|s| {
        let mut sr = Reader::new(s);
        let method = sr.keyword(d, "method", SyncMethod::parse, SyncMethod::ALL);
        let count = sr.int::<u32>(d, "count");
        let strict = sr.prop("strict").and_then(|e| match e.value {
            Value::Bool(b) => Some(Spanned::new(b, e.span)),
            _ => {
                d.push(bool_expected("strict", e));
                None
            }
        });
        sr.finish(d);
        Synchronous {
            method: method.unwrap_or(Spanned::new(SyncMethod::Any, s.span)),
            count: count.unwrap_or(Spanned::new(1, s.span)),
            declared: true,
            strict,
            span: s.span,
        }
    });
    let slots = rr.child(d, "slots").is_some_and(|s| {
        let mut sr = Reader::new(s);
        let v = match sr.arg(0) {
            None => true,
            Some(e) => match e.value {
                Value::Bool(b) => b,
                _ => {
                    d.push(
                        Diagnostic::error(
                            codes::PT003,
                            format!(
                                "`slots` must be #true or #false, found {}",
                                e.value.type_name()
                            ),
                        )
                        .with_span(e.span, "expected a boolean")
                        .with_help("write `slots #true`"),
                    );
                    false
                }
            },
        };
        sr.finish(d);
        v
    });
    rr.finish(d);
    Replication {
        synchronous: synchronous.or_else(|| has_sync.then(|| implied(node.span))),
        slots,
        span: node.span,
    }
}

fn lower_node(n: &SNode, d: &mut Vec<Diagnostic>) -> Option<Node> {
    let mut r = Reader::new(n);
    let name = name_arg(&mut r, d, "a name", "node \"db1\" role=\"primary\"");
    let role = r.keyword(d, "role", Role::parse, Role::ALL);
    if role.is_none() && !n.props.contains_key("role") {
        r.require_prop(d, "role", "node \"db1\" role=\"primary\"");
    }
    let priority = r.int::<u32>(d, "priority");
    let host = r.string(d, "host");
    let port = r.int::<u16>(d, "port");
    let patroni_port = r.int::<u16>(d, "patroni-port");
    let pooler_port = r.int::<u16>(d, "pooler-port");
    let failover = r.bool(d, "failover").unwrap_or(true);
    let upstream = r.string(d, "upstream");
    let zone = r.string(d, "zone");
    r.finish(d);
    let name = name?;
    Some(Node {
        role: role?,
        priority,
        host,
        port_declared: port.is_some(),
        port: port.unwrap_or(Spanned::new(5432, name.span)),
        patroni_port: patroni_port.unwrap_or(Spanned::new(DEFAULT_PATRONI_PORT, name.span)),
        pooler_port,
        failover,
        upstream,
        zone,
        span: n.span,
        name_span: name.span,
        name: name.value,
    })
}

fn lower_resources(n: Option<&SNode>, d: &mut Vec<Diagnostic>) -> Resources {
    let Some(n) = n else {
        return Resources::default();
    };
    let mut r = Reader::new(n);
    let mut list = |r: &mut Reader, name: &'static str| {
        r.child(d, name).map_or_else(ResourceList::default, |c| {
            let mut cr = Reader::new(c);
            let cpu = cr.string(d, "cpu").or(None);
            let memory = cr.string(d, "memory");
            cr.finish(d);
            for q in [&cpu, &memory].into_iter().flatten() {
                quantity_ok(d, q, name);
            }
            ResourceList { cpu, memory }
        })
    };
    let requests = list(&mut r, "requests");
    let limits = list(&mut r, "limits");
    r.finish(d);
    Resources {
        requests,
        limits,
        span: Some(n.span),
    }
}

fn lower_pooler(p: &SNode, d: &mut Vec<Diagnostic>) -> Option<Pooler> {
    let mut r = Reader::new(p);
    let name = name_arg(
        &mut r,
        d,
        "a name",
        "pooler \"pgbouncer\" kind=\"pgbouncer\" target=\"primary\"",
    );
    let kind = r.keyword(d, "kind", PoolerKind::parse, PoolerKind::ALL);
    if kind.is_none() && !p.props.contains_key("kind") {
        r.require_prop(d, "kind", "pooler \"pool\" kind=\"pgbouncer\"");
    }
    let target = r.keyword(d, "target", PoolerTarget::parse, PoolerTarget::ALL);
    let port = r.int::<u16>(d, "port");
    let mode = r.keyword(d, "mode", PoolMode::parse, PoolMode::ALL);
    let replicas = r.int::<u32>(d, "replicas");
    let pool_node = r.child(d, "pool");
    let (size, reserve, max_client_conn) = match pool_node {
        Some(pn) => {
            let mut pr = Reader::new(pn);
            let s = pr.int::<u32>(d, "size");
            let res = pr.int::<u32>(d, "reserve");
            let m = pr.int::<u32>(d, "max-client-conn");
            pr.finish(d);
            (s, res, m)
        }
        None => (None, None, None),
    };
    let lb = r.child(d, "load-balance").and_then(|l| {
        let mut lr = Reader::new(l);
        let v = lr.bool(d, "reads");
        lr.finish(d);
        v
    });
    let hc = r.child(d, "health-check").and_then(|h| {
        let mut hr = Reader::new(h);
        let v = hr.seconds(d, "interval");
        hr.finish(d);
        v
    });
    let resources = lower_resources(r.child(d, "resources"), d);
    r.finish(d);
    let name = name?;
    let kind = kind?;
    let pool_span = pool_node.map_or(p.span, |x| x.span);
    Some(Pooler {
        target: target.unwrap_or(Spanned::new(PoolerTarget::Primary, p.span)),
        port: port.unwrap_or(Spanned::new(
            if kind.value == PoolerKind::Pgbouncer {
                6432
            } else {
                5432
            },
            p.span,
        )),
        mode: mode.unwrap_or(Spanned::new(
            if kind.value == PoolerKind::Pgbouncer {
                PoolMode::Transaction
            } else {
                PoolMode::Session
            },
            p.span,
        )),
        replicas: replicas.unwrap_or(Spanned::new(1, p.span)),
        pool: Pool {
            size: size.unwrap_or(Spanned::new(20, pool_span)),
            reserve: reserve.unwrap_or(Spanned::new(0, pool_span)),
            // PgBouncer's max_client_conn defaults to 100; for Pgpool-II this is num_init_children,
            // whose default is 32.
            max_client_conn: max_client_conn.unwrap_or(Spanned::new(
                if kind.value == PoolerKind::Pgbouncer {
                    100
                } else {
                    32
                },
                pool_span,
            )),
            span: pool_span,
        },
        load_balance_reads: lb.unwrap_or(kind.value == PoolerKind::Pgpool),
        health_check_interval: hc,
        resources,
        kind,
        span: p.span,
        name_span: name.span,
        name: name.value,
    })
}

fn lower_balancer(b: &SNode, d: &mut Vec<Diagnostic>) -> Option<Balancer> {
    let mut r = Reader::new(b);
    let name = name_arg(&mut r, d, "its software", "balancer \"haproxy\" { … }");
    if let Some(n) = &name {
        if n.value != "haproxy" {
            d.push(
                Diagnostic::error(codes::PT005, format!("unknown balancer \"{}\"", n.value))
                    .with_span(n.span, "not a supported balancer")
                    .with_help("pgtopo emits balancer \"haproxy\""),
            );
        }
    }
    let hosts = r
        .children("host")
        .filter_map(|h| {
            let mut hr = Reader::new(h);
            let hname = name_arg(&mut hr, d, "a name", "host \"lb1\" address=\"10.0.0.21\"");
            let address = hr.string(d, "address");
            if address.is_none() && !h.props.contains_key("address") {
                hr.require_prop(d, "address", "host \"lb1\" address=\"10.0.0.21\"");
            }
            let priority = hr.int::<u32>(d, "priority");
            hr.finish(d);
            let hname = hname?;
            Some(BalancerHost {
                address: address?,
                priority: priority.unwrap_or(Spanned::new(100, h.span)),
                span: h.span,
                name_span: hname.span,
                name: hname.value,
            })
        })
        .collect();
    let listens = r
        .children("listen")
        .filter_map(|l| {
            let mut lr = Reader::new(l);
            let lname = name_arg(
                &mut lr,
                d,
                "a name",
                "listen \"rw\" port=5000 target=\"primary\"",
            );
            let port = lr.int::<u16>(d, "port");
            if port.is_none() && !l.props.contains_key("port") {
                lr.require_prop(d, "port", "listen \"rw\" port=5000 target=\"primary\"");
            }
            let target = lr.keyword(d, "target", ListenTarget::parse, ListenTarget::ALL);
            if target.is_none() && !l.props.contains_key("target") {
                lr.require_prop(d, "target", "listen \"rw\" port=5000 target=\"primary\"");
            }
            let fallback = lr.keyword(d, "fallback", ListenTarget::parse, ListenTarget::ALL);
            let max_lag = bytes_prop(&mut lr, d, "max-lag");
            lr.finish(d);
            let lname = lname?;
            Some(Listen {
                port: port?,
                target: target?,
                fallback,
                max_lag,
                span: l.span,
                name_span: lname.span,
                name: lname.value,
            })
        })
        .collect();
    let stats = r.child(d, "stats").and_then(|s| {
        let mut sr = Reader::new(s);
        let port = sr.int::<u16>(d, "port");
        if port.is_none() && !s.props.contains_key("port") {
            sr.require_prop(d, "port", "stats port=7000");
        }
        sr.finish(d);
        Some(Stats {
            port: port?,
            span: s.span,
        })
    });
    let vip = r.child(d, "vip").and_then(|v| {
        let mut vr = Reader::new(v);
        let addr = vr.string_arg(d, 0, "vip address");
        if addr.is_none() && v.args.is_empty() {
            vr.require_arg(
                d,
                "an address",
                "vip \"10.0.0.100/24\" interface=\"eth0\" router-id=51",
            );
        }
        let interface = vr.string(d, "interface");
        let router_id = vr.int::<i64>(d, "router-id");
        if router_id.is_none() && !v.props.contains_key("router-id") {
            vr.require_prop(
                d,
                "router-id",
                "vip \"10.0.0.100/24\" interface=\"eth0\" router-id=51",
            );
        }
        let advert = vr.int::<u32>(d, "advert-int");
        vr.finish(d);
        Some(Vip {
            address: addr?,
            interface: interface.unwrap_or(Spanned::new("eth0".to_owned(), v.span)),
            router_id: router_id?,
            advert_int: advert.unwrap_or(Spanned::new(1, v.span)),
            span: v.span,
        })
    });
    r.finish(d);
    Some(Balancer {
        name: name?.value,
        hosts,
        listens,
        stats,
        vip,
        span: b.span,
    })
}

fn lower_backup(b: &SNode, d: &mut Vec<Diagnostic>) -> Backup {
    let mut r = Reader::new(b);
    let tool = r.keyword(d, "tool", BackupTool::parse, BackupTool::ALL);
    let archive = r.string(d, "archive");
    let repositories = r
        .children("repository")
        .filter_map(|n| {
            let mut rr = Reader::new(n);
            let kind = match rr.arg(0) {
                Some(e) => keyword_entry(
                    d,
                    e,
                    "repository",
                    RepositoryKind::parse,
                    RepositoryKind::ALL,
                ),
                None => {
                    rr.require_arg(
                        d,
                        "a kind",
                        "repository \"posix\" path=\"/var/lib/pgbackrest\"",
                    );
                    None
                }
            };
            let repo = Repository {
                kind: kind?,
                bucket: rr.string(d, "bucket"),
                region: rr.string(d, "region"),
                endpoint: rr.string(d, "endpoint"),
                path: rr.string(d, "path"),
                host: rr.string(d, "host"),
                credentials_secret: rr.string(d, "credentials-secret"),
                span: n.span,
            };
            rr.finish(d);
            Some(repo)
        })
        .collect();
    let schedule = r.child(d, "schedule").map(|n| {
        let mut sr = Reader::new(n);
        let s = Schedule {
            full: sr.string(d, "full"),
            incremental: sr.string(d, "incremental"),
            span: n.span,
        };
        sr.finish(d);
        s
    });
    let retention = r.child(d, "retention").map(|n| {
        let mut rr = Reader::new(n);
        let full = rr.int::<u32>(d, "full");
        rr.finish(d);
        Retention { full, span: n.span }
    });
    r.finish(d);
    Backup {
        tool,
        repositories,
        schedule,
        retention,
        archive,
        span: b.span,
    }
}

fn lower_monitoring(m: &SNode, d: &mut Vec<Diagnostic>) -> Monitoring {
    let mut r = Reader::new(m);
    let mut port_of = |r: &mut Reader, name: &'static str, default: u16| {
        r.child(d, name).map(|c| {
            let mut cr = Reader::new(c);
            let p = cr.int::<u16>(d, "port");
            cr.finish(d);
            p.unwrap_or(Spanned::new(default, c.span))
        })
    };
    let exporter = port_of(&mut r, "exporter", 9187);
    let prometheus = port_of(&mut r, "prometheus", 9090);
    let grafana = port_of(&mut r, "grafana", 3000);
    r.finish(d);
    Monitoring {
        exporter_port: exporter.unwrap_or(Spanned::new(9187, m.span)),
        prometheus_port: prometheus,
        grafana_port: grafana,
        span: m.span,
    }
}

fn lower_workload(w: &SNode, d: &mut Vec<Diagnostic>) -> Option<Workload> {
    let mut r = Reader::new(w);
    let name = name_arg(
        &mut r,
        d,
        "a name",
        "workload \"users\" cluster=\"main\" { … }",
    );
    let cluster = r.string(d, "cluster");
    if cluster.is_none() && !w.props.contains_key("cluster") {
        r.require_prop(d, "cluster", "workload \"users\" cluster=\"main\"");
    }
    let load = r.child(d, "load").and_then(|l| {
        let mut lr = Reader::new(l);
        let rows = lr.int::<u64>(d, "rows");
        if rows.is_none() && !l.props.contains_key("rows") {
            lr.require_prop(d, "rows", "load rows=100000 table=\"users\"");
        }
        let table = lr.string(d, "table");
        let batch = lr.int::<u32>(d, "batch");
        lr.finish(d);
        Some(Load {
            rows: rows?,
            table: table.unwrap_or(Spanned::new("users".to_owned(), l.span)),
            batch: batch.unwrap_or(Spanned::new(1000, l.span)),
            span: l.span,
        })
    });
    let verify = r.child(d, "verify").map(|v| {
        let mut vr = Reader::new(v);
        let every = vr.bool(d, "every-node").unwrap_or(true);
        let interval = vr.seconds(d, "interval");
        let timeout = vr.seconds(d, "timeout");
        vr.finish(d);
        Verify {
            every_node: every,
            interval,
            timeout: timeout.unwrap_or(Spanned::new(120, v.span)),
            span: v.span,
        }
    });
    r.finish(d);
    Some(Workload {
        name: name?.value,
        cluster: cluster?,
        load,
        verify,
        span: w.span,
    })
}
