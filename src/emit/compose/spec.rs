//! The subset of the Compose Specification that pgtopo writes, as types, and their YAML. Building
//! the file from types (not text templates) keeps quoting and indentation in one place: the
//! shared writer (`emit::yaml`) quotes every string YAML 1.1 or 1.2 could misread, and `IndexMap`
//! keeps keys in the order we insert them; the types' `Serialize` is the one description of what
//! is written.

use std::borrow::Cow;

use indexmap::IndexMap;
use serde::Serialize;

/// A string of the document: borrowed when it is fixed text (a restart policy, a health check's
/// command, a variable's name), owned when it is made for the topology. A PostgreSQL service was
/// thirty-odd allocations, most of them copies of fixed text, and a large project has thousands.
pub type Text = Cow<'static, str>;

/// A whole `compose.yaml`. A service is borrowed when an env's project takes it unchanged from
/// the base's rendering of its cluster, and owned when it is rendered for the project.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ComposeFile<'a> {
    /// The project name, so that `docker compose` run from any folder names containers alike.
    pub name: String,
    pub services: IndexMap<String, Cow<'a, Service>>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub networks: IndexMap<String, Network>,
    /// Named volumes; `None` means "a local volume with default options" (`name: {}` would be
    /// noisier and means the same).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub volumes: IndexMap<String, Option<Volume>>,
}

impl ComposeFile<'_> {
    /// Adds a service rendered for this project.
    pub fn add_service(&mut self, name: String, service: Service) {
        self.services.insert(name, Cow::Owned(service));
    }
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

/// Renders the document through the shared YAML writer: the types' `Serialize` (field order,
/// `skip_serializing_if`) decides what is written, the writer how it is quoted.
pub fn to_yaml(f: &ComposeFile<'_>) -> String {
    crate::emit::yaml::to_string(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The written file reads back as serde's view of the same value: every field, in order,
    /// with the same skipping, and every string kept a string.
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
        f.services.insert("full".into(), Cow::Owned(full));
        f.services.insert(
            "bare".into(),
            Cow::Owned(Service {
                image: "x".into(),
                ..Default::default()
            }),
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
