//! Backups and restores: which tool each target runs for a cluster, its configuration, the
//! archive and restore commands PostgreSQL calls, and the schedules. Every target packages this
//! (a host file and systemd units, a Compose service, a ConfigMap and CronJobs, chart values);
//! nothing here knows how.

use std::fmt::Write as _;

use crate::model::{Backup, BackupTool, Cluster, RepositoryKind, Target, Topology};

/// The tool `target` runs for a cluster's backups: the declared one, else pgBackRest, except on
/// Helm's CloudNativePG, whose operator backs up with barman-cloud. `None` when the cluster has no
/// backup repository (no `backup`, or only the former `archive=` folder).
pub fn tool(c: &Cluster, target: Target) -> Option<BackupTool> {
    let b = c.backup.as_ref()?;
    b.repository()?;
    Some(
        b.tool
            .as_ref()
            .map_or_else(|| default_tool(c, target), |t| t.value),
    )
}

fn default_tool(c: &Cluster, target: Target) -> BackupTool {
    if target == Target::Helm && c.helm.chart.value == crate::model::HelmChart::Cnpg {
        BackupTool::BarmanCloud
    } else {
        BackupTool::Pgbackrest
    }
}

/// Whether `target` can run `tool` (the one table behind PT186).
pub fn target_runs(target: Target, c: &Cluster, tool: BackupTool) -> bool {
    match target {
        Target::Helm => {
            c.helm.chart.value == crate::model::HelmChart::Cnpg && tool == BackupTool::BarmanCloud
        }
        // Compose adds pgBackRest to the official image, which runs failover "none" only.
        Target::Compose => {
            tool == BackupTool::Pgbackrest
                && c.failover.manager.value == crate::model::FailoverManager::None
        }
        Target::Kubernetes | Target::Hosts => tool == BackupTool::Pgbackrest,
        Target::Haproxy | Target::Keepalived => true,
    }
}

/// The pgBackRest stanza of a cluster: its name.
pub fn stanza(c: &Cluster) -> &str {
    &c.name
}

/// Where pgBackRest's configuration file is, on a host and in a container.
pub const PGBACKREST_CONF: &str = "/etc/pgbackrest/pgbackrest.conf";

/// PostgreSQL's `archive_command` for the cluster's tool.
pub fn archive_command(c: &Cluster, tool: BackupTool) -> String {
    match tool {
        BackupTool::Pgbackrest => format!("pgbackrest --stanza={} archive-push %p", stanza(c)),
        BackupTool::WalG => "wal-g wal-push %p".to_owned(),
        // The operator sets its own archive_command; this is what it runs.
        BackupTool::BarmanCloud => "barman-cloud-wal-archive".to_owned(),
    }
}

/// PostgreSQL's `restore_command` that reads WAL of `source` from its repository.
pub fn restore_command(source: &Cluster) -> String {
    format!(
        "pgbackrest --stanza={} archive-get %f \"%p\"",
        stanza(source)
    )
}

/// A restore target time as PostgreSQL's `recovery_target_time` and pgBackRest's `--target`
/// both read it: the RFC 3339 time with a space for the `T` and `+00` for `Z` (pgBackRest 2.45
/// parses only that form when it picks the backup set to start from).
pub fn target_time(rfc3339: &str) -> String {
    let mut t = rfc3339.replacen(['T', 't'], " ", 1);
    if t.ends_with(['Z', 'z']) {
        t.pop();
        t.push_str("+00");
    }
    t
}

/// The cluster whose backups `c` is restored from, when `c` declares `restore`.
pub fn restore_source<'t>(t: &'t Topology, c: &Cluster) -> Option<&'t Cluster> {
    t.cluster(&c.restore.as_ref()?.from.value)
}

/// One pgBackRest `[global]` repository block (`repo1-…`), from the repository the cluster
/// declares. Object-store keys are never written: pgBackRest reads them from the environment
/// (`PGBACKREST_REPO1_S3_KEY`, `PGBACKREST_REPO1_S3_KEY_SECRET`, …), which the packaging fills
/// from the Secret or env file.
fn repo_lines(b: &Backup, s: &mut String, on_repo_host: bool) {
    let Some(r) = b.repository() else { return };
    let path = r.path.as_ref().map(|p| p.value.as_str());
    match r.kind.value {
        RepositoryKind::Posix => {
            if let (Some(h), false) = (&r.host, on_repo_host) {
                let _ = writeln!(s, "repo1-host={}", h.value);
                s.push_str("repo1-host-user=pgbackrest\n");
            }
            let _ = writeln!(s, "repo1-path={}", path.unwrap_or("/var/lib/pgbackrest"));
        }
        RepositoryKind::S3 => {
            s.push_str("repo1-type=s3\n");
            if let Some(v) = &r.bucket {
                let _ = writeln!(s, "repo1-s3-bucket={}", v.value);
            }
            if let Some(v) = &r.region {
                let _ = writeln!(s, "repo1-s3-region={}", v.value);
            }
            let endpoint = r.endpoint.as_ref().map_or_else(
                || {
                    r.region
                        .as_ref()
                        .map_or("s3.amazonaws.com".to_owned(), |g| {
                            format!("s3.{}.amazonaws.com", g.value)
                        })
                },
                |e| e.value.clone(),
            );
            let _ = writeln!(s, "repo1-s3-endpoint={endpoint}");
            let _ = writeln!(s, "repo1-path={}", path.unwrap_or("/"));
        }
        RepositoryKind::Gcs => {
            s.push_str("repo1-type=gcs\n");
            if let Some(v) = &r.bucket {
                let _ = writeln!(s, "repo1-gcs-bucket={}", v.value);
            }
            let _ = writeln!(s, "repo1-path={}", path.unwrap_or("/"));
        }
        RepositoryKind::Azure => {
            s.push_str("repo1-type=azure\n");
            if let Some(v) = &r.bucket {
                let _ = writeln!(s, "repo1-azure-container={}", v.value);
            }
            let _ = writeln!(s, "repo1-path={}", path.unwrap_or("/"));
        }
    }
    if let Some(n) = b.retention.as_ref().and_then(|r| r.full.as_ref()) {
        let _ = writeln!(s, "repo1-retention-full={}", n.value);
    }
}

/// The environment variables an object store's keys come from (the packaging fills them from the
/// credentials Secret or env file), empty for a posix repository.
pub fn repo_key_vars(c: &Cluster) -> &'static [&'static str] {
    let kind = c
        .backup
        .as_ref()
        .and_then(Backup::repository)
        .map(|r| r.kind.value);
    match kind {
        Some(RepositoryKind::S3) => &["PGBACKREST_REPO1_S3_KEY", "PGBACKREST_REPO1_S3_KEY_SECRET"],
        Some(RepositoryKind::Gcs) => &["PGBACKREST_REPO1_GCS_KEY"],
        Some(RepositoryKind::Azure) => &[
            "PGBACKREST_REPO1_AZURE_ACCOUNT",
            "PGBACKREST_REPO1_AZURE_KEY",
        ],
        Some(RepositoryKind::Posix) | None => &[],
    }
}

/// One PostgreSQL instance of a stanza, as pgBackRest reaches it.
pub struct Instance {
    /// `None`: on this machine (the local socket).
    pub host: Option<String>,
    pub data_dir: String,
    pub port: u16,
}

/// `pgbackrest.conf` of a machine that runs `instances` of stanza `owner`'s cluster, whose
/// repository is `repo`'s (the cluster itself, or the cluster a restore reads). On the repository
/// host (`on_repo_host`), the instances are reached over SSH (`pgN-host`).
pub fn pgbackrest_conf(
    owner: &Cluster,
    repo: &Cluster,
    instances: &[Instance],
    on_repo_host: bool,
) -> String {
    let mut s = format!(
        "# Generated by pgtopo for cluster \"{}\": pgBackRest's configuration ({PGBACKREST_CONF}).\n\
         # Object-store keys, when there are any, come from the environment, never from this file.\n\
         [global]\n",
        owner.name
    );
    if let Some(b) = &repo.backup {
        repo_lines(b, &mut s, on_repo_host);
    }
    // Start a backup with an immediate checkpoint instead of waiting for the next one, and
    // keep the console readable in the journal.
    s.push_str("start-fast=y\nlog-level-console=info\nlog-level-file=off\n");
    let _ = writeln!(s, "\n[{}]", stanza(repo));
    for (i, inst) in instances.iter().enumerate() {
        let k = i + 1;
        if let Some(h) = &inst.host {
            let _ = writeln!(s, "pg{k}-host={h}");
            let _ = writeln!(s, "pg{k}-host-user=postgres");
        }
        let _ = writeln!(s, "pg{k}-path={}", inst.data_dir);
        let _ = writeln!(s, "pg{k}-port={}", inst.port);
    }
    s
}

/// Whether pgtopo's Kubernetes pods back cluster `c` up with pgBackRest: its tool there is
/// pgBackRest, its repository an object store (a pod has no host folder to write to), and its
/// image one whose superuser the pgBackRest sidecar can log in as over the shared socket (the
/// official image, Patroni on it, pg_auto_failover's; not the bitnami repmgr image, whose user has
/// no name). PT172 says what is lost otherwise.
pub fn pod_backs_up(c: &Cluster) -> bool {
    let object_store = c
        .backup
        .as_ref()
        .and_then(Backup::repository)
        .is_some_and(|r| r.kind.value != RepositoryKind::Posix);
    tool(c, Target::Kubernetes) == Some(BackupTool::Pgbackrest)
        && object_store
        && c.failover.manager.value != crate::model::FailoverManager::Repmgr
}

/// The cluster whose backups `c` restores from on pgtopo's Kubernetes manifests, when it can:
/// the source backs up there, and `c`'s primary starts from a data directory it does not
/// initialize itself when one exists (failover "none": the image's entrypoint skips initdb; a
/// manager that creates its own data directory has no restore step there yet).
pub fn pod_restore_source<'t>(t: &'t Topology, c: &Cluster) -> Option<&'t Cluster> {
    if c.failover.manager.value != crate::model::FailoverManager::None || c.is_standby_cluster() {
        return None;
    }
    restore_source(t, c).filter(|s| pod_backs_up(s))
}

/// Where a pod's PostgreSQL leaves each WAL segment for the pgBackRest sidecar, relative to the
/// data directory (archive_command runs there): a folder beside it on the same volume, so that a
/// spooled segment survives a restart and never enters a base backup.
pub const POD_SPOOL: &str = "../pgbackrest-spool";

/// archive_command of a pod whose sidecar runs pgBackRest (the database image has none): a
/// durable copy into the spool (written under a temporary name, flushed, renamed, the folder
/// flushed), which the sidecar pushes with `pgbackrest archive-push` and then removes. A segment
/// counts as archived once it is safely on the volume; until the sidecar has pushed it, it stays
/// there, as WAL stays in pg_wal while an archive_command fails.
pub fn pod_archive_command() -> String {
    let d = POD_SPOOL;
    format!("cp %p {d}/%f.tmp && sync {d}/%f.tmp && mv -f {d}/%f.tmp {d}/%f && sync {d}")
}

/// A cron expression (`M H DoM Mon DoW`, or a `@daily`-style macro), each field expanded to the
/// values it matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    pub minute: Vec<u32>,
    pub hour: Vec<u32>,
    pub day: Vec<u32>,
    pub month: Vec<u32>,
    /// 0 = Sunday … 6 = Saturday (cron's 7 is folded into 0).
    pub weekday: Vec<u32>,
    /// Whether the day-of-month and day-of-week fields were both restricted: cron then runs on
    /// either (an OR), where a calendar expression would need both.
    pub either_day: bool,
}

const FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];

impl Cron {
    /// Parses a standard five-field cron expression, as Kubernetes CronJobs and cron read it
    /// (numbers, `*`, ranges `a-b`, steps `/n`, lists `,`; or `@hourly`, `@daily`, `@weekly`,
    /// `@monthly`, `@yearly`). The error says which field is wrong and why.
    pub fn parse(expr: &str) -> Result<Cron, String> {
        let expr = match expr.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            e => e,
        };
        let parts: Vec<&str> = expr.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "a cron expression has five fields (minute hour day-of-month month day-of-week); this one has {}",
                parts.len()
            ));
        }
        let mut fields = Vec::with_capacity(5);
        for (text, (name, lo, hi)) in parts.iter().zip(FIELDS) {
            fields.push(field(text, lo, hi).map_err(|e| format!("{name} `{text}`: {e}"))?);
        }
        let mut weekday: Vec<u32> = fields[4].iter().map(|d| d % 7).collect();
        weekday.sort_unstable();
        weekday.dedup();
        Ok(Cron {
            either_day: parts[2] != "*" && parts[4] != "*",
            minute: fields[0].clone(),
            hour: fields[1].clone(),
            day: fields[2].clone(),
            month: fields[3].clone(),
            weekday,
        })
    }

    /// systemd `OnCalendar=` expressions that fire exactly when the cron expression does: one,
    /// or two when cron's day-of-month/day-of-week OR needs it.
    pub fn on_calendar(&self) -> Vec<String> {
        let time = format!(
            "{}:{}:00",
            list(&self.hour, 0, 23),
            list(&self.minute, 0, 59)
        );
        let month = list(&self.month, 1, 12);
        let days = |dow: &[u32], dom: &[u32]| {
            let dow = if dow.len() == 7 {
                String::new()
            } else {
                const NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
                let names: Vec<&str> = dow.iter().map(|d| NAMES[*d as usize]).collect();
                format!("{} ", names.join(","))
            };
            format!("{dow}*-{month}-{} {time}", list(dom, 1, 31))
        };
        let all_days: Vec<u32> = (1..=31).collect();
        let all_week: Vec<u32> = (0..7).collect();
        if self.either_day {
            vec![days(&all_week, &self.day), days(&self.weekday, &all_days)]
        } else {
            vec![days(&self.weekday, &self.day)]
        }
    }
}

impl Cron {
    /// The same schedule as a six-field expression with seconds first (`S M H DoM Mon DoW`), as
    /// CloudNativePG's ScheduledBackup reads it (robfig/cron with seconds, whose day of week is
    /// 0–6: cron's 7 and the `@` macros are written out). Each field lists what it matches, runs
    /// of three or more as a range; a field that matches every value is `*` unless cron's
    /// either-day rule needs it restricted.
    pub fn six_fields(&self) -> String {
        let day_all = !self.either_day;
        [
            "0".to_owned(),
            compact(&self.minute, 0, 59, true),
            compact(&self.hour, 0, 23, true),
            compact(&self.day, 1, 31, day_all),
            compact(&self.month, 1, 12, true),
            compact(&self.weekday, 0, 6, day_all),
        ]
        .join(" ")
    }

    /// Whether the schedule fires on a day: its month, and its day of month and day of week
    /// (either one when both were restricted, as cron reads them).
    fn fires_on(&self, month: u32, day: u32, weekday: u32) -> bool {
        let dom = self.day.contains(&day);
        let dow = self.weekday.contains(&weekday);
        self.month.contains(&month)
            && if self.either_day {
                dom || dow
            } else {
                dom && dow
            }
    }

    /// The longest time between two days on which the schedule fires, in whole days (at least
    /// one): 7 for a weekly schedule, 31 for a monthly one. Counted over the eight years from
    /// 2029-01-01 (a Monday), so that every weekday meets every date and February 29 comes
    /// twice. `None` when the schedule fires less than twice in that time (`0 0 30 2 *`).
    pub fn longest_gap_days(&self) -> Option<u32> {
        const LEN: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let mut last: Option<u32> = None;
        let mut longest: Option<u32> = None;
        let mut n = 0u32;
        for year in 2029..2037u32 {
            let leap = year % 4 == 0;
            for (m, len) in LEN.iter().enumerate() {
                let len = len + u32::from(leap && m == 1);
                for d in 1..=len {
                    // 2029-01-01 is a Monday (weekday 1).
                    if self.fires_on(m as u32 + 1, d, (n + 1) % 7) {
                        if let Some(l) = last {
                            longest = longest.max(Some(n - l));
                        }
                        last = Some(n);
                    }
                    n += 1;
                }
            }
        }
        longest.map(|g| g.max(1))
    }
}

/// The backups of a cluster as a recovery window in days (CloudNativePG keeps backups by window,
/// not by count): `retention full=N` times the longest gap between two full backups of the
/// schedule, the window over which the schedule takes N full backups. `None` without a retention,
/// a full schedule, or a schedule that fires.
pub fn retention_window_days(b: &Backup) -> Option<u32> {
    let n = b.retention.as_ref()?.full.as_ref()?.value;
    let full = b.schedule.as_ref()?.full.as_ref()?;
    let gap = Cron::parse(&full.value).ok()?.longest_gap_days()?;
    Some(n.saturating_mul(gap))
}

/// A field for a six-field expression: `*` when it matches every value (and `star` allows it),
/// else a comma list with runs of three or more as `a-b`.
fn compact(values: &[u32], lo: u32, hi: u32, star: bool) -> String {
    if star && values.len() as u32 == hi - lo + 1 {
        return "*".to_owned();
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j + 1 < values.len() && values[j + 1] == values[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            parts.push(format!("{}-{}", values[i], values[j]));
        } else {
            parts.extend(values[i..=j].iter().map(u32::to_string));
        }
        i = j + 1;
    }
    parts.join(",")
}

/// The values one cron field matches.
fn field(text: &str, lo: u32, hi: u32) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let s: u32 = s
                    .parse()
                    .map_err(|_| format!("step `{s}` is not a number"))?;
                if s == 0 {
                    return Err("a step of 0".to_owned());
                }
                (r, s)
            }
            None => (part, 1),
        };
        let num = |s: &str| -> Result<u32, String> {
            let v: u32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
            if v < lo || v > hi {
                return Err(format!("{v} is outside {lo}–{hi}"));
            }
            Ok(v)
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                return Err(format!("the range {a}-{b} is backwards"));
            }
            (a, b)
        } else {
            let a = num(range)?;
            // `5/15` means from 5 to the end, every 15.
            (a, if step > 1 { hi } else { a })
        };
        out.extend((a..=b).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// A field's values as a calendar component: `*` for every value, else a list.
fn list(values: &[u32], lo: u32, hi: u32) -> String {
    if values.len() as u32 == hi - lo + 1 {
        return "*".to_owned();
    }
    let v: Vec<String> = values.iter().map(|v| format!("{v:02}")).collect();
    v.join(",")
}

/// Parses an RFC 3339 timestamp (`2026-12-01T10:00:00Z`, `…+02:00`, fractional seconds allowed),
/// checking each part's range. pgBackRest and PostgreSQL take the target as written.
pub fn parse_rfc3339(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let bad = || format!("`{s}` is not an RFC 3339 time such as 2026-12-01T10:00:00Z");
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let (y, mo, d, h, mi, sec) = (
        digits(0..4).ok_or_else(bad)?,
        digits(5..7).ok_or_else(bad)?,
        digits(8..10).ok_or_else(bad)?,
        digits(11..13).ok_or_else(bad)?,
        digits(14..16).ok_or_else(bad)?,
        digits(17..19).ok_or_else(bad)?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days[mo as usize - 1]
        || h > 23
        || mi > 59
        || sec > 60
    {
        return Err(format!("`{s}` has a part out of range"));
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(bad());
        }
        rest = &frac[n..];
    }
    let zone_ok = matches!(rest, "Z" | "z")
        || (rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':'
            && digits(s.len() - 5..s.len() - 3).is_some_and(|h| h <= 23)
            && digits(s.len() - 2..s.len()).is_some_and(|m| m <= 59));
    if zone_ok {
        Ok(())
    } else {
        Err(format!("`{s}` needs a time zone: Z or ±HH:MM"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_fields_expand() {
        let c = Cron::parse("30 2 * * 1-6").unwrap();
        assert_eq!(c.minute, [30]);
        assert_eq!(c.hour, [2]);
        assert_eq!(c.weekday, [1, 2, 3, 4, 5, 6]);
        assert_eq!(c.on_calendar(), ["Mon,Tue,Wed,Thu,Fri,Sat *-*-* 02:30:00"]);
        assert_eq!(
            Cron::parse("*/15 * * * *").unwrap().on_calendar(),
            ["*-*-* *:00,15,30,45:00"]
        );
        assert_eq!(
            Cron::parse("0 1 * * 0").unwrap().on_calendar(),
            ["Sun *-*-* 01:00:00"]
        );
        assert_eq!(
            Cron::parse("0 3 * * 7").unwrap().on_calendar(),
            ["Sun *-*-* 03:00:00"]
        );
        // Cron runs on the 1st or on Mondays; a calendar needs two expressions for that.
        assert_eq!(
            Cron::parse("0 0 1 * 1").unwrap().on_calendar(),
            ["*-*-01 00:00:00", "Mon *-*-* 00:00:00"]
        );
        assert_eq!(
            Cron::parse("@daily").unwrap().on_calendar(),
            ["*-*-* 00:00:00"]
        );
    }

    #[test]
    fn bad_cron_says_which_field() {
        for (e, want) in [
            ("0 1 * *", "five fields"),
            ("61 1 * * *", "minute"),
            ("0 24 * * *", "hour"),
            ("0 1 0 * *", "day of month"),
            ("0 1 * 13 *", "month"),
            ("0 1 * * 8", "day of week"),
            ("0 1 * * mon", "day of week"),
            ("*/0 * * * *", "step of 0"),
            ("5-1 * * * *", "backwards"),
        ] {
            let err = Cron::parse(e).unwrap_err();
            assert!(err.contains(want), "{e}: {err}");
        }
    }

    #[test]
    fn six_field_cron_for_cloudnativepg() {
        let six = |e: &str| Cron::parse(e).unwrap().six_fields();
        assert_eq!(six("0 1 * * 0"), "0 0 1 * * 0");
        assert_eq!(six("0 1 * * 1-6"), "0 0 1 * * 1-6");
        assert_eq!(six("0 3 * * 7"), "0 0 3 * * 0");
        assert_eq!(six("*/15 2,4 * * *"), "0 0,15,30,45 2,4 * * *");
        assert_eq!(six("@weekly"), "0 0 0 * * 0");
        // Both days restricted: cron's OR needs both written out, never `*`.
        assert_eq!(six("0 0 1 * 1"), "0 0 0 1 * 1");
    }

    #[test]
    fn longest_gap_between_backups() {
        let gap = |e: &str| Cron::parse(e).unwrap().longest_gap_days();
        assert_eq!(gap("0 1 * * 0"), Some(7));
        assert_eq!(gap("0 1 * * *"), Some(1));
        assert_eq!(gap("*/5 * * * *"), Some(1));
        assert_eq!(gap("0 1 * * 1-6"), Some(2));
        assert_eq!(gap("0 0 1 * *"), Some(31));
        assert_eq!(gap("0 0 1 1 *"), Some(366));
        assert_eq!(gap("0 0 29 2 *"), Some(4 * 365 + 1));
        assert_eq!(gap("0 0 30 2 *"), None);
    }

    #[test]
    fn rfc3339_times() {
        for ok in [
            "2026-12-01T10:00:00Z",
            "2026-12-01T10:00:00.123Z",
            "2026-12-01T10:00:00+02:00",
            "2024-02-29T00:00:00Z",
        ] {
            parse_rfc3339(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "2026-12-01 10:00:00",
            "2026-12-01T10:00:00",
            "2026-13-01T10:00:00Z",
            "2025-02-29T00:00:00Z",
            "yesterday",
            "2026-12-01T25:00:00Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
