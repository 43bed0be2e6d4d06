//! The subset of the Compose Specification that pgtopo writes, as serde types. Building the file
//! from types (not text templates) keeps quoting, indentation and key order out of our hands:
//! serde_yaml escapes every string, and `IndexMap` keeps keys in the order we insert them.

use indexmap::IndexMap;
use serde::Serialize;

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
    pub image: String,
    /// Empty leaves Compose's default, `"no"` (written out, a bare `no` is a boolean to YAML 1.1
    /// readers).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub restart: String,
    /// Compose profiles: a service with a profile starts only when that profile is enabled.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub environment: IndexMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    /// Short syntax (`SOURCE:TARGET[:ro]`), the form the seeds and Docker's docs use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub depends_on: IndexMap<String, DependsOn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DependsOn {
    pub condition: String,
}

impl DependsOn {
    pub fn healthy() -> Self {
        DependsOn {
            condition: "service_healthy".to_owned(),
        }
    }
    pub fn started() -> Self {
        DependsOn {
            condition: "service_started".to_owned(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Healthcheck {
    pub test: Vec<String>,
    pub interval: String,
    pub timeout: String,
    pub retries: u32,
    pub start_period: String,
}

impl Healthcheck {
    /// A `CMD` check with the timings every pgtopo service shares; `start_period` leaves a standby
    /// time to copy its base backup before failures count.
    pub fn cmd(args: &[&str], start_period: &str) -> Self {
        let mut test = vec!["CMD".to_owned()];
        test.extend(args.iter().map(|s| (*s).to_owned()));
        Healthcheck {
            test,
            interval: "10s".to_owned(),
            timeout: "5s".to_owned(),
            retries: 5,
            start_period: start_period.to_owned(),
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

/// Renders the document. Serialising these types cannot fail (no maps with non-string keys).
pub fn to_yaml(f: &ComposeFile) -> String {
    serde_yaml::to_string(f).expect("compose types serialise")
}
