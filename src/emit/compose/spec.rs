//! The subset of the Compose Specification that pgtopo writes, as types, and their YAML. Building
//! the file from types (not text templates) keeps quoting and indentation in one place: the
//! shared writer (`emit::yaml`) quotes every string YAML 1.1 or 1.2 could misread, and `IndexMap`
//! keeps keys in the order we insert them. The types still derive `Serialize`, so that tests can
//! compare the written file with serde's view of the same value.

use std::borrow::Cow;

use indexmap::IndexMap;
use serde::Serialize;

/// A string of the document: borrowed when it is fixed text (a restart policy, a health check's
/// command, a variable's name), owned when it is made for the topology. A PostgreSQL service was
/// thirty-odd allocations, most of them copies of fixed text, and a large project has thousands.
pub type Text = Cow<'static, str>;

/// A whole `compose.yaml`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ComposeFile {
    /// The project name, so that `docker compose` run from any folder names containers alike.
    pub name: String,
    pub services: IndexMap<String, Service>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub networks: IndexMap<String, Network>,
    /// Named volumes; `None` means "a local volume with default options" (`name: {}` would be
    /// noisier and means the same).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub volumes: IndexMap<String, Option<Volume>>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Service {
    pub image: Text,
    /// Built locally (and tagged `image`) when the service needs more than the image has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    /// Empty leaves Compose's default, `"no"` (written out, a bare `no` is a boolean to YAML 1.1
    /// readers).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub restart: Text,
    /// Compose profiles: a service with a profile starts only when that profile is enabled.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<Text>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<Text>>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub environment: IndexMap<Text, Text>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Text>,
    /// Short syntax (`SOURCE:TARGET[:ro]`), the form the seeds and Docker's docs use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Text>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub depends_on: IndexMap<String, DependsOn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<Text>,
}

/// `build: { dockerfile_inline: … }`: a Dockerfile written into compose.yaml, so the project needs
/// no other file to build.
#[derive(Clone, Debug, Serialize)]
pub struct Build {
    pub dockerfile_inline: Text,
}

#[derive(Clone, Debug, Serialize)]
pub struct DependsOn {
    pub condition: Text,
}

impl DependsOn {
    pub fn healthy() -> Self {
        DependsOn {
            condition: Cow::Borrowed("service_healthy"),
        }
    }
    pub fn started() -> Self {
        DependsOn {
            condition: Cow::Borrowed("service_started"),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Healthcheck {
    pub test: Vec<Text>,
    pub interval: Text,
    pub timeout: Text,
    pub retries: u32,
    pub start_period: Text,
}

impl Healthcheck {
    /// A `CMD` check with the timings every pgtopo service shares; `start_period` leaves a standby
    /// time to copy its base backup before failures count.
    pub fn cmd(args: &[&'static str], start_period: &'static str) -> Self {
        let mut test = vec![Cow::Borrowed("CMD")];
        test.extend(args.iter().map(|s| Cow::Borrowed(*s)));
        Healthcheck {
            test,
            interval: Cow::Borrowed("10s"),
            timeout: Cow::Borrowed("5s"),
            retries: 5,
            start_period: Cow::Borrowed(start_period),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Network {
    pub driver: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Volume {
    pub driver: String,
}

/// Renders the document, field by field in the types' order, skipping what is empty as the
/// `skip_serializing_if` attributes say. Written directly rather than through serde_yaml, which
/// made Compose the slowest part of rendering a large topology (docs/performance.md).
pub fn to_yaml(f: &ComposeFile) -> String {
    use crate::emit::yaml::{key_line, raw_field, str_field, str_items, Plain};
    // A PostgreSQL service takes 1.1 KB (a thousand of them, 1,128 KB): 1.5 KB each keeps a large
    // file from being copied into a buffer twice its size near the end (1.5 % of `build --out`
    // of 10 clusters of 100 nodes).
    let mut out = String::with_capacity(1536 * f.services.len().max(1));
    let o = &mut out;
    str_field(o, 0, Plain("name"), &f.name);
    if f.services.is_empty() {
        raw_field(o, 0, Plain("services"), "{}");
    } else {
        key_line(o, 0, Plain("services"));
    }
    for (name, s) in &f.services {
        key_line(o, 2, name);
        str_field(o, 4, Plain("image"), &s.image);
        if let Some(b) = &s.build {
            key_line(o, 4, Plain("build"));
            str_field(o, 6, Plain("dockerfile_inline"), &b.dockerfile_inline);
        }
        if !s.restart.is_empty() {
            str_field(o, 4, Plain("restart"), &s.restart);
        }
        let lists = [
            (Plain("profiles"), Some(&s.profiles)),
            (Plain("entrypoint"), s.entrypoint.as_ref()),
            (Plain("command"), s.command.as_ref()),
        ];
        for (k, list) in lists {
            match list {
                // An empty entrypoint or command is written (it overrides the image's).
                Some(l) if l.is_empty() && k.0 != "profiles" => raw_field(o, 4, k, "[]"),
                Some(l) if !l.is_empty() => {
                    key_line(o, 4, k);
                    str_items(o, 4, l);
                }
                _ => {}
            }
        }
        if !s.environment.is_empty() {
            key_line(o, 4, Plain("environment"));
            for (k, v) in &s.environment {
                str_field(o, 6, k, v);
            }
        }
        for (k, list) in [(Plain("ports"), &s.ports), (Plain("volumes"), &s.volumes)] {
            if !list.is_empty() {
                key_line(o, 4, k);
                str_items(o, 4, list);
            }
        }
        if !s.depends_on.is_empty() {
            key_line(o, 4, Plain("depends_on"));
            for (k, d) in &s.depends_on {
                key_line(o, 6, k);
                str_field(o, 8, Plain("condition"), &d.condition);
            }
        }
        if let Some(h) = &s.healthcheck {
            key_line(o, 4, Plain("healthcheck"));
            if h.test.is_empty() {
                raw_field(o, 6, Plain("test"), "[]");
            } else {
                key_line(o, 6, Plain("test"));
                str_items(o, 6, &h.test);
            }
            str_field(o, 6, Plain("interval"), &h.interval);
            str_field(o, 6, Plain("timeout"), &h.timeout);
            raw_field(o, 6, Plain("retries"), &h.retries.to_string());
            str_field(o, 6, Plain("start_period"), &h.start_period);
        }
        if !s.networks.is_empty() {
            key_line(o, 4, Plain("networks"));
            str_items(o, 4, &s.networks);
        }
    }
    if !f.networks.is_empty() {
        key_line(o, 0, Plain("networks"));
        for (k, n) in &f.networks {
            key_line(o, 2, k);
            str_field(o, 4, Plain("driver"), &n.driver);
        }
    }
    if !f.volumes.is_empty() {
        key_line(o, 0, Plain("volumes"));
        for (k, v) in &f.volumes {
            match v {
                None => raw_field(o, 2, k, "null"),
                Some(v) => {
                    key_line(o, 2, k);
                    str_field(o, 4, Plain("driver"), &v.driver);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer and serde's view of the same value must agree: every field, in order, with
    /// the same skipping. A field added to the types but not to `to_yaml` fails here.
    #[test]
    fn written_yaml_reads_back_as_the_serialized_value() {
        let mut f = ComposeFile {
            name: "p".into(),
            ..Default::default()
        };
        let full = Service {
            image: "postgres:17".into(),
            build: Some(Build {
                dockerfile_inline: "FROM postgres:17\nRUN true\n".into(),
            }),
            restart: "no".into(),
            profiles: vec!["tools".into()],
            entrypoint: Some(vec![]),
            command: Some(vec!["sh".into(), "-c".into(), "echo 1\necho 2\n".into()]),
            environment: [
                ("A".into(), "yes".into()),
                ("B".into(), String::from("5432").into()),
            ]
            .into_iter()
            .collect(),
            ports: vec!["2222:22".into()],
            volumes: vec!["./x:/y:ro".into()],
            depends_on: [("db".to_owned(), DependsOn::healthy())]
                .into_iter()
                .collect(),
            healthcheck: Some(Healthcheck::cmd(&["pg_isready"], "30s")),
            networks: vec!["db".into()],
        };
        f.services.insert("full".into(), full);
        f.services.insert(
            "bare".into(),
            Service {
                image: "x".into(),
                ..Default::default()
            },
        );
        f.networks.insert(
            "db".into(),
            Network {
                driver: "bridge".into(),
            },
        );
        f.volumes.insert("a".into(), None);
        f.volumes.insert(
            "b".into(),
            Some(Volume {
                driver: "local".into(),
            }),
        );
        let text = to_yaml(&f);
        let back: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, serde_yaml::to_value(&f).unwrap(), "{text}");
        // Key order too: serde_yaml's mappings keep it, and comparing them ignores it.
        let keys = |v: &serde_yaml::Value| -> Vec<String> {
            v["services"]["full"]
                .as_mapping()
                .unwrap()
                .keys()
                .map(|k| k.as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(keys(&back), keys(&serde_yaml::to_value(&f).unwrap()));
        // Port mappings are quoted: YAML 1.1 would read 2222:22 as a base-60 number.
        assert!(text.contains("- \"2222:22\""), "{text}");
    }
}
