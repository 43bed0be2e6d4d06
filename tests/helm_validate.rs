//! The Helm target checked against the charts' own published definitions in
//! `../shared/reference/helm/` (tests/helm_render.rs renders them with helm itself):
//! - every key path of every emitted bitnami values file exists in the chart's values.yaml with a
//!   compatible type (free-form maps excepted, listed in `FREE_FORM`);
//! - every CloudNativePG values file validates against the chart's values.schema.json, and its key
//!   paths exist in the chart's values.yaml (the schema allows unknown keys, so both are needed);
//!   the items of `poolers` and `databases` have only keys the chart's templates read;
//! - every `values-<env>.yaml` holds only differences, and `values.yaml` merged with it the way Helm
//!   merges gives exactly the env's values.
//! - the bitnami charts' pg_hba.conf and init script run on real PostgreSQL: every row loads, and
//!   the script creates the roles, databases and extensions the topology declares, idempotently.

mod common;

use pgtopo::emit::helm::{cluster_values, values};
use pgtopo::emit::Program;
use pgtopo::model::{HelmChart, Target};
use serde_yaml::Value;

/// Subtrees whose keys the chart passes through to Kubernetes or PostgreSQL unchecked (labels,
/// resource lists, postgresql.conf parameters, the operator's affinity and pod template). Their
/// contents are not in the chart's values.yaml by design.
const FREE_FORM: &[&str] = &[
    "commonLabels",
    "postgresql.resources",
    "pgpool.resources",
    "primary.resources",
    "cluster.resources",
    "cluster.affinity",
    "cluster.additionalLabels",
    "cluster.initdb",
    "cluster.postgresql.parameters",
    "cluster.postgresql.synchronous",
];

/// The keys a CloudNativePG `poolers[]` item may have: the ones the chart's templates/pooler.yaml
/// reads (the chart's values.yaml has an empty list, so it cannot say).
const CNPG_POOLER_KEYS: &[&str] = &[
    "name",
    "type",
    "instances",
    "poolMode",
    "parameters",
    "monitoring",
    "template",
    "authQuerySecret",
    "authQuery",
    "pg_hba",
];

/// The keys a CloudNativePG `databases[]` item may have, and those of one of its `extensions`:
/// the ones the chart's templates/databases.yaml reads (its values.yaml has an empty list).
const CNPG_DATABASE_KEYS: &[&str] = &[
    "name",
    "ensure",
    "owner",
    "template",
    "encoding",
    "databaseReclaimPolicy",
    "isTemplate",
    "allowConnections",
    "connectionLimit",
    "tablespace",
    "locale",
    "localeProvider",
    "localeCollate",
    "localeCType",
    "icuLocale",
    "icuRules",
    "builtinLocale",
    "collationVersion",
    "schemas",
    "extensions",
];
const CNPG_EXTENSION_KEYS: &[&str] = &["name", "version", "schema", "ensure"];

/// Problems with the keys of the items of a list the chart reads item by item.
fn item_keys(ours: &Value, path: &str, allowed: &[&str], what: &str, problems: &mut Vec<String>) {
    for (i, item) in ours.as_sequence().into_iter().flatten().enumerate() {
        for k in item.as_mapping().into_iter().flat_map(|m| m.keys()) {
            let k = k.as_str().unwrap_or("");
            if !allowed.contains(&k) {
                problems.push(format!(
                    "{path}[{i}].{k}: not a key of a CloudNativePG {what}"
                ));
            }
        }
    }
}

fn reference(rel: &str) -> std::path::PathBuf {
    common::reference(rel)
}

fn load_yaml(rel: &str) -> Value {
    let text = std::fs::read_to_string(reference(rel))
        .unwrap_or_else(|e| panic!("reference file {rel} is readable: {e}"));
    serde_yaml::from_str(&text).expect("reference values parse")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Sequence(_) => "list",
        Value::Mapping(_) => "map",
        Value::Tagged(_) => "tagged",
    }
}

/// Whether an emitted value may stand where the chart's default is `reference`. An empty string or
/// null default is the charts' "unset" placeholder and takes any scalar (e.g. `maxPool: ""`,
/// `pdb.minAvailable: ""` which the templates quote); an emitted null deletes a key (env diffs).
fn compatible(reference: &Value, ours: &Value) -> bool {
    match (reference, ours) {
        (_, Value::Null) | (Value::Null, _) => true,
        (Value::String(s), o) if s.is_empty() => {
            !matches!(o, Value::Mapping(_) | Value::Sequence(_))
        }
        (r, o) => kind(r) == kind(o),
    }
}

/// Every problem with `ours` against the chart's `reference` tree, as readable lines.
fn walk(reference: &Value, ours: &Value, path: &str, problems: &mut Vec<String>) {
    if FREE_FORM.contains(&path) {
        return;
    }
    if path == "poolers" {
        item_keys(ours, path, CNPG_POOLER_KEYS, "pooler", problems);
        return;
    }
    if path == "databases" {
        item_keys(ours, path, CNPG_DATABASE_KEYS, "database", problems);
        for (i, item) in ours.as_sequence().into_iter().flatten().enumerate() {
            item_keys(
                &item["extensions"],
                &format!("databases[{i}].extensions"),
                CNPG_EXTENSION_KEYS,
                "extension",
                problems,
            );
        }
        return;
    }
    if !compatible(reference, ours) {
        problems.push(format!(
            "{path}: the chart's default is a {}, pgtopo wrote a {}",
            kind(reference),
            kind(ours)
        ));
        return;
    }
    if let (Value::Mapping(r), Value::Mapping(o)) = (reference, ours) {
        // An empty mapping in the chart's values is a free-form pass-through (the cnpg chart
        // copies `cluster.replicationSlots: {}` into the Cluster as it is); the rendered objects
        // are checked against the CRD schema by tests/helm_render.rs.
        if r.is_empty() {
            return;
        }
        for (k, v) in o {
            let k = k.as_str().expect("values keys are strings");
            let p = if path.is_empty() {
                k.to_owned()
            } else {
                format!("{path}.{k}")
            };
            match r.get(k) {
                Some(rv) => walk(rv, v, &p, problems),
                None => problems.push(format!("{p}: no such key in the chart's values.yaml")),
            }
        }
    }
}

fn reference_values(chart: HelmChart) -> Value {
    load_yaml(match chart {
        HelmChart::BitnamiPostgresqlHa => "helm/bitnami-postgresql-ha-values.yaml",
        HelmChart::BitnamiPostgresql => "helm/bitnami-postgresql-values.yaml",
        HelmChart::Cnpg => "helm/cnpg-cluster-values.yaml",
    })
}

fn cnpg_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(reference("helm/cnpg-cluster-values.schema.json"))
        .expect("the CloudNativePG schema is readable");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn schema_errors(v: &jsonschema::Validator, values: &Value) -> Vec<String> {
    let json = serde_json::to_value(values).expect("values convert to JSON");
    v.iter_errors(&json)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect()
}

fn helm_programs() -> Vec<(String, Program)> {
    let v: Vec<(String, Program)> = common::topologies()
        .into_iter()
        .map(|(name, path)| (name, common::program(&path)))
        .filter(|(_, p)| p.base.has_target(Target::Helm))
        .collect();
    assert!(
        v.len() >= 2,
        "bitnami-ha and mirror-db declare the helm target"
    );
    v
}

/// Checks one values tree (a file as written, or merged values) against its chart.
fn check_values(
    chart: HelmChart,
    what: &str,
    values: &Value,
    validator: &jsonschema::Validator,
) -> Vec<String> {
    let mut problems = Vec::new();
    walk(&reference_values(chart), values, "", &mut problems);
    if chart == HelmChart::Cnpg {
        problems.extend(schema_errors(validator, values));
    }
    problems
        .into_iter()
        .map(|p| format!("{what}: {p}"))
        .collect()
}

#[test]
fn every_values_file_fits_its_chart() {
    let validator = cnpg_validator();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, p) in helm_programs() {
        let bundle = pgtopo::emit::helm::files(&p).expect("the helm target renders");
        for (file, text) in bundle.iter().filter(|(f, _)| f.ends_with(".yaml")) {
            let release = file.split('/').next().unwrap();
            let chart = p
                .all()
                .find_map(|t| t.cluster(release))
                .expect("a release per cluster")
                .helm
                .chart
                .value;
            let values: Value = serde_yaml::from_str(text).expect("values files are YAML");
            assert!(values.is_mapping(), "{name}/{file} is a mapping");
            problems.extend(check_values(
                chart,
                &format!("{name}/{file}"),
                &values,
                &validator,
            ));
            checked += 1;
        }
        // The merged values of every env (what `pgtopo build ENV --target helm` prints).
        for t in p.all() {
            for c in &t.clusters {
                let what = format!(
                    "{name} {} merged {}",
                    t.env.as_deref().unwrap_or("base"),
                    c.name
                );
                problems.extend(check_values(
                    c.helm.chart.value,
                    &what,
                    &cluster_values(t, c),
                    &validator,
                ));
            }
        }
    }
    assert!(checked >= 7, "only {checked} values files were checked");
    assert!(
        problems.is_empty(),
        "values that do not fit their chart:\n{}",
        problems.join("\n")
    );
}

/// Every key of `diff` (recursively) differs from `base`: the env file holds nothing redundant.
fn only_differences(base: &Value, diff: &Value, path: &str, problems: &mut Vec<String>) {
    let (Some(b), Some(d)) = (base.as_mapping(), diff.as_mapping()) else {
        if base == diff {
            problems.push(format!("{path}: repeats the base value"));
        }
        return;
    };
    for (k, dv) in d {
        let p = format!("{path}.{}", k.as_str().unwrap_or("?"));
        match b.get(k) {
            None if dv.is_null() => problems.push(format!("{p}: deletes a key the base lacks")),
            None => {}
            Some(bv) => only_differences(bv, dv, &p, problems),
        }
    }
}

#[test]
fn env_files_hold_only_differences_and_merge_into_the_env_values() {
    for (name, p) in helm_programs() {
        let bundle = pgtopo::emit::helm::files(&p).expect("the helm target renders");
        let stdout_base = pgtopo::emit::helm::stdout(&p, None, &Default::default()).unwrap();
        assert!(
            stdout_base.contains("# Source: "),
            "{name}: stdout names its sources"
        );
        for t in &p.envs {
            let env = t.env.as_deref().unwrap();
            let printed = pgtopo::emit::helm::stdout(&p, Some(env), &Default::default()).unwrap();
            let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&printed)
                .map(|d| serde::Deserialize::deserialize(d).unwrap())
                .collect();
            assert_eq!(
                docs.len(),
                t.clusters.len(),
                "{name} {env}: one document per release"
            );
            for (c, printed_doc) in t.clusters.iter().zip(&docs) {
                let base: Value =
                    serde_yaml::from_str(bundle.get(&format!("{}/values.yaml", c.name)).unwrap())
                        .unwrap();
                let diff: Value = serde_yaml::from_str(
                    bundle
                        .get(&format!("{}/values-{env}.yaml", c.name))
                        .unwrap(),
                )
                .unwrap();
                let expected = cluster_values(t, c);
                assert_eq!(
                    values::merge(&base, &diff),
                    expected,
                    "{name} {env} {}: values.yaml + values-{env}.yaml is not the env's values",
                    c.name
                );
                assert_eq!(
                    printed_doc, &expected,
                    "{name} {env} {}: stdout prints the merged values",
                    c.name
                );
                let mut problems = Vec::new();
                only_differences(&base, &diff, "", &mut problems);
                assert!(problems.is_empty(), "{name} {env} {}: {problems:?}", c.name);
            }
        }
    }
}

/// The checks above can fail: a misspelled bitnami key, a wrong type and a CloudNativePG value of
/// the wrong type are all reported.
#[test]
fn the_checks_catch_wrong_values() {
    let validator = cnpg_validator();
    let bad: Value = serde_yaml::from_str(
        "postgresql:\n  syncReplicatoin: true\n  replicaCount: [3]\npgpool:\n  maxPool: 10\n",
    )
    .unwrap();
    let problems = check_values(HelmChart::BitnamiPostgresqlHa, "bad", &bad, &validator);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("postgresql.syncReplicatoin"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("postgresql.replicaCount"),
        "{problems:?}"
    );

    let bad: Value = serde_yaml::from_str(
        "cluster:\n  instances: three\n  storage: {size: 1Gi}\npoolers:\n- {name: rw, kind: rw}\ndatabases:\n- {name: d, owner: o, conectionLimit: 1, extensions: [{name: e, versoin: '1'}]}\n",
    )
    .unwrap();
    let problems = check_values(HelmChart::Cnpg, "bad", &bad, &validator);
    assert!(
        problems.iter().any(|p| p.contains("/cluster/instances")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("poolers[0].kind")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("databases[0].conectionLimit")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("databases[0].extensions[0].versoin")),
        "{problems:?}"
    );
}

/// A command line as `nobody` (PostgreSQL refuses root) with PostgreSQL 15's programs on PATH and
/// `env` set.
fn as_nobody(env: &[(&str, String)], args: &[&str]) -> (bool, String) {
    let mut cmd = common::runuser_nobody();
    cmd.args(["env", &format!("PATH={}:/usr/bin:/bin", common::PG_BIN)]);
    for (k, v) in env {
        cmd.arg(format!("{k}={v}"));
    }
    cmd.args(args);
    common::run(&mut cmd)
}

/// The bitnami charts' access on real PostgreSQL (15, Debian's): a server started with the
/// release's pg_hba.conf (`pgHbaConfiguration`) and TLS on reads every row without an error, and
/// the release's init script, run as the image runs it (executed, then sourced by a shell with the
/// image's options, then executed again: it is idempotent) with the superuser's password and the
/// `PGTOPO_*` variables the values set from the Secret, creates every role with its limit and
/// memberships, every database with its owner and limit, and the extensions in their database;
/// a declared role then logs in with its password.
#[test]
fn bitnami_init_script_and_pg_hba_run_on_postgresql() {
    let pg_ok = std::path::Path::new(common::PG_BIN).join("initdb").exists();
    if !pg_ok || !common::have_tool("runuser") || !common::have_tool("openssl") {
        if common::tools_required() {
            panic!(
                "{} (Debian postgresql-15), runuser or openssl is missing",
                common::PG_BIN
            );
        }
        eprintln!("SKIPPED: PostgreSQL 15, runuser or openssl is missing; the bitnami access check did not run");
        return;
    }
    let program = common::program(&common::repo().join("tests/fixtures/helm/access.kdl"));
    let t = &program.base;
    let c = t.cluster("shop").expect("the fixture has shop");
    let v = cluster_values(t, c);
    let text = |path: &[&str]| {
        let mut cur = &v;
        for p in path {
            cur = &cur[*p];
        }
        cur.as_str()
            .unwrap_or_else(|| panic!("{} is not written", path.join(".")))
            .to_owned()
    };
    let script = text(&["postgresql", "initdbScripts", "10-pgtopo-bootstrap.sh"]);
    let hba = text(&["postgresql", "pgHbaConfiguration"]);

    let dir = common::temp_dir("helm-bitnami-access");
    let d = |s: &str| dir.join(s).display().to_string();
    std::fs::write(dir.join("init.sh"), &script).unwrap();
    std::fs::write(dir.join("pg_hba.conf"), &hba).unwrap();
    std::fs::write(dir.join("pw"), "su-test\n").unwrap();
    // A CA and a server certificate it signs, as the `tls` Secret holds them.
    let (ok, out) = common::run(
        std::process::Command::new("sh").arg("-ec").arg(format!(
            "cd {dir}\n\
             openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.crt 2>/dev/null\n\
             openssl req -newkey rsa:2048 -nodes -subj /CN=shop -keyout tls.key -out tls.csr 2>/dev/null\n\
             openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out tls.crt 2>/dev/null",
            dir = dir.display()
        )),
    );
    assert!(ok, "openssl: {out}");
    common::open_up(&dir);
    let (ok, out) = common::run(
        std::process::Command::new("chown")
            .arg("nobody")
            .arg(dir.join("tls.key")),
    );
    assert!(ok, "chown: {out}");
    std::fs::set_permissions(
        dir.join("tls.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();

    let (ok, out) = as_nobody(&[], &common::initdb_scram(&d("pw"), &d("db")));
    assert!(ok, "initdb: {out}");
    let port = common::free_port();
    let opts = format!(
        "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={dir} \
         -c hba_file={hba} -c ssl=on -c ssl_cert_file={cert} -c ssl_key_file={key} -c ssl_ca_file={ca}",
        dir = dir.display(),
        hba = d("pg_hba.conf"),
        cert = d("tls.crt"),
        key = d("tls.key"),
        ca = d("ca.crt"),
    );
    let mut servers = common::Servers(Vec::new());
    servers.start(|args| as_nobody(&[], args), &dir, "db", &opts);

    let psql = |user: &str, password: &str, db: &str, sql: &str| {
        as_nobody(
            &[("PGPASSWORD", password.to_owned())],
            &[
                "psql",
                "-XAtq",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                user,
                "-d",
                db,
                "-c",
                sql,
            ],
        )
    };
    let q = |sql: &str| {
        let (ok, out) = psql("postgres", "su-test", "postgres", sql);
        assert!(ok, "{sql}: {out}");
        out.trim().to_owned()
    };
    assert_eq!(
        q("select count(*) from pg_hba_file_rules where error is not null"),
        "0",
        "{}",
        q("select string_agg(line_number || ': ' || error, E'\\n') from pg_hba_file_rules where error is not null")
    );

    // What the image gives the script: the superuser's password (the chart's user is another
    // role), the port, and one PGTOPO_* variable per password, from the Secret.
    // The script connects over loopback, as the images' own steps do (no PGHOST is set there);
    // tests/bitnami_images.rs runs the images' socket logins.
    let mut env = vec![
        ("POSTGRESQL_POSTGRES_PASSWORD", "su-test".to_owned()),
        ("POSTGRESQL_PASSWORD", "app-test".to_owned()),
        ("POSTGRESQL_PORT_NUMBER", port.to_string()),
    ];
    let vars: Vec<String> = script
        .split("${")
        .skip(1)
        .filter_map(|p| p.split_once(":?").map(|(v, _)| v.to_owned()))
        .filter(|v| v.starts_with("PGTOPO_"))
        .collect();
    assert!(!vars.is_empty(), "the script reads no PGTOPO_* password");
    for var in &vars {
        let role = var
            .trim_start_matches("PGTOPO_")
            .trim_end_matches("_PASSWORD")
            .to_lowercase();
        env.push((var.as_str(), format!("{role}-test")));
    }
    let sourced = format!("set -o errexit -o nounset -o pipefail; . {}", d("init.sh"));
    for (how, args) in [
        ("executed", vec!["bash", &d("init.sh")]),
        ("sourced", vec!["bash", "-c", &sourced]),
        ("executed again", vec!["bash", &d("init.sh")]),
    ] {
        let mut cmd = vec!["timeout", "60"];
        cmd.extend(args.iter().map(|s| &**s));
        let (ok, out) = as_nobody(&env, &cmd);
        assert!(ok, "the init script, {how}, failed: {out}");
    }

    assert_eq!(
        q("select string_agg(rolname || ':' || rolcanlogin || ':' || rolconnlimit, ',' order by rolname) \
           from pg_roles where rolname in ('app', 'reporting')"),
        "app:true:100,reporting:true:10"
    );
    assert_eq!(
        q(
            "select string_agg(r.rolname || '<' || m.rolname, ',') from pg_auth_members a \
           join pg_roles r on r.oid = a.member join pg_roles m on m.oid = a.roleid \
           where r.rolname = 'reporting'"
        ),
        "reporting<pg_read_all_data"
    );
    assert_eq!(
        q("select string_agg(datname || ':' || pg_get_userbyid(datdba) || ':' || datconnlimit, ',' order by datname) \
           from pg_database where datname in ('shop', 'analytics')"),
        "analytics:reporting:20,shop:app:-1"
    );
    let (ok, out) = psql(
        "postgres",
        "su-test",
        "shop",
        "select string_agg(extname, ',' order by extname) from pg_extension where extname <> 'plpgsql'",
    );
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "pg_stat_statements,pgcrypto");
    // A declared role logs in with the password the script set from its variable.
    let (ok, out) = psql(
        "reporting",
        "reporting-test",
        "analytics",
        "select current_user",
    );
    assert!(
        ok && out.trim() == "reporting",
        "reporting cannot log in: {out}"
    );

    // The other releases' pg_hba.conf (bitnami/postgresql with a certificate rule, postgresql-ha
    // without a declared pooler) load without an error too: pg_hba_file_rules reads the file as
    // it is on disk.
    for (name, path) in [
        ("ledger", ["primary", "pgHbaConfiguration"]),
        ("cart", ["postgresql", "pgHbaConfiguration"]),
    ] {
        let c = t.cluster(name).expect("the fixture has the cluster");
        let v = cluster_values(t, c);
        let hba = v[path[0]][path[1]]
            .as_str()
            .expect("pg_hba.conf is written");
        std::fs::write(dir.join("pg_hba.conf"), hba).unwrap();
        assert_eq!(
            q("select count(*) from pg_hba_file_rules where error is not null"),
            "0",
            "{name}: {}",
            q("select string_agg(line_number || ': ' || error, E'\\n') from pg_hba_file_rules where error is not null")
        );
    }
}
