//! The start sequence's view of a config: every value the parent and child need,
//! resolved once before `clone3` (defaults filled in, paths made absolute, namespaces
//! resolved), so the mechanism code reads plain fields and unit tests can build one by hand.

use std::path::{Path, PathBuf};

use lxcrs_config::model::{
    CapKeep, Capability, ContainerConfig, IdMap, MountAuto, MountEntry, NsKind, Personality,
    Prlimit,
};

use super::namespaces::{self, Namespace, NsConfig, NsPlan, ShareSource};
use super::StartError;

/// The host's cgroup hierarchies as the container's cgroup automounts need them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupHost {
    /// Pure cgroup2 host.
    pub unified_only: bool,
    /// v1 hierarchies by their `/proc/self/cgroup` key: `memory`, `cpu,cpuacct`, `name=systemd`.
    pub v1: Vec<String>,
    /// A cgroup2 hierarchy is mounted (at `/sys/fs/cgroup/unified` on hybrid hosts).
    pub has_unified: bool,
}

/// The rootfs: a host directory bind-mounted at a staging mount point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsSpec {
    /// The host directory (`lxc.rootfs.path` without its `dir:` prefix).
    pub source: PathBuf,
    /// Where it is mounted before `pivot_root` (`lxc.rootfs.mount`).
    pub mount: PathBuf,
    /// `lxc.rootfs.options`, split on commas.
    pub options: Vec<String>,
    /// The whole `lxc.rootfs.path` value when the backend is not `dir`: the storage
    /// crate mounts it (overlay, loop, btrfs) instead of a plain bind mount.
    pub store: Option<String>,
}

/// Everything the start sequence reads.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub lxcpath: PathBuf,
    pub config_path: PathBuf,
    pub rootfs: Option<RootfsSpec>,
    pub hostname: String,
    pub ns: NsPlan,
    pub idmaps: Vec<IdMap>,
    pub mount_auto: MountAuto,
    /// `lxc.mount.fstab` (absolute).
    pub fstab: Option<PathBuf>,
    pub entries: Vec<MountEntry>,
    pub autodev: bool,
    pub autodev_tmpfs_size: u32,
    pub tty_max: u32,
    pub tty_dir: Option<String>,
    pub pty_max: u32,
    /// A console pty is allocated (`lxc.console.path` is not `none`).
    pub console: bool,
    pub cap_drop: Vec<Capability>,
    pub cap_keep: CapKeep,
    pub no_new_privs: bool,
    pub seccomp_profile: Option<PathBuf>,
    pub sysctls: Vec<(String, String)>,
    pub prlimits: Vec<Prlimit>,
    pub procs: Vec<(String, String)>,
    /// `lxc.environment` + `.runtime` resolved to NAME=VALUE (inherited ones looked up now).
    pub environment: Vec<(String, String)>,
    pub init_uid: u32,
    pub init_gid: u32,
    pub init_groups: Vec<u32>,
    pub init_cwd: PathBuf,
    pub personality: Option<Personality>,
    /// `lxc.time.offset.boot` / `.monotonic` as (seconds, nanoseconds).
    pub time_offsets: Vec<(&'static str, i64, i64)>,
    pub cgroup_host: CgroupHost,
    pub daemonized: bool,
}

/// The staging mount point when `lxc.rootfs.mount` is unset: one directory for every
/// container is enough, since each mounts there in its own mount namespace.
pub fn default_rootfs_mount() -> PathBuf {
    crate::paths::rundir().join("rootfs")
}

fn ns_of(k: NsKind) -> Namespace {
    match k {
        NsKind::Cgroup => Namespace::Cgroup,
        NsKind::Ipc => Namespace::Ipc,
        NsKind::Mnt => Namespace::Mount,
        NsKind::Net => Namespace::Net,
        NsKind::Pid => Namespace::Pid,
        NsKind::Time => Namespace::Time,
        NsKind::User => Namespace::User,
        NsKind::Uts => Namespace::Uts,
    }
}

impl Spec {
    /// Resolve `config` for starting container `name`.
    pub fn new(
        name: &str,
        lxcpath: &Path,
        config_path: &Path,
        config: &ContainerConfig,
        cgroup_host: CgroupHost,
        daemonized: bool,
    ) -> Result<Spec, StartError> {
        if let Some(problem) = config.conflict() {
            return Err(StartError::config("lxc.cap.keep", "", problem));
        }
        let rootfs = match &config.rootfs.path {
            None => None,
            Some(p) => {
                let store = match p.backend() {
                    "dir" => None,
                    "overlay" | "loop" | "btrfs" => Some(p.to_string()),
                    other => {
                        return Err(StartError::config(
                            "lxc.rootfs.path",
                            p.to_string(),
                            format!(
                                "the {other} storage backend is not supported by the start sequence yet"
                            ),
                        ))
                    }
                };
                Some(RootfsSpec {
                    source: PathBuf::from(&p.path),
                    mount: config
                        .rootfs
                        .mount
                        .as_ref()
                        .map(PathBuf::from)
                        .unwrap_or_else(default_rootfs_mount),
                    options: config
                        .rootfs
                        .options
                        .as_deref()
                        .unwrap_or("")
                        .split(',')
                        .filter(|o| !o.is_empty())
                        .map(str::to_string)
                        .collect(),
                    store,
                })
            }
        };
        let ns_cfg = NsConfig {
            clone: config.namespaces.clone.iter().map(|k| ns_of(*k)).collect(),
            keep: config.namespaces.keep.iter().map(|k| ns_of(*k)).collect(),
            share: config
                .namespaces
                .share
                .iter()
                .map(|(k, v)| (ns_of(*k), ShareSource::parse(v)))
                .collect(),
            has_idmap: !config.idmaps.is_empty(),
            has_time_offsets: config.time_offsets.any(),
            host_network: config.shares_host_network(),
            cgroupns_supported: namespaces::kernel_supports(Namespace::Cgroup),
            timens_supported: namespaces::kernel_supports(Namespace::Time),
        };
        let ns = namespaces::resolve(&ns_cfg)?;
        let config_dir = config_path.parent().unwrap_or(Path::new("/"));
        let fstab = config.mount.fstab.as_ref().map(|f| config_dir.join(f));
        let resolve_env = |vars: &[&lxcrs_config::model::EnvVar]| -> Vec<(String, String)> {
            vars.iter()
                .filter_map(|v| match &v.value {
                    Some(val) => Some((v.name.clone(), val.clone())),
                    None => std::env::var(&v.name).ok().map(|val| (v.name.clone(), val)),
                })
                .collect()
        };
        let env = &config.environment;
        let environment =
            resolve_env(&env.all.iter().chain(env.runtime.iter()).collect::<Vec<_>>());
        let mut time_offsets = Vec::new();
        if let Some((o, _)) = &config.time_offsets.boot {
            time_offsets.push(("boottime", o.seconds, o.nanoseconds));
        }
        if let Some((o, _)) = &config.time_offsets.monotonic {
            time_offsets.push(("monotonic", o.seconds, o.nanoseconds));
        }
        Ok(Spec {
            name: name.to_string(),
            lxcpath: lxcpath.to_path_buf(),
            config_path: config_path.to_path_buf(),
            rootfs,
            hostname: config.uts_name.clone().unwrap_or_else(|| name.to_string()),
            ns,
            idmaps: config.idmaps.clone(),
            mount_auto: config.mount.auto.clone(),
            fstab,
            entries: config.mount.entries.clone(),
            autodev: config.autodev,
            autodev_tmpfs_size: config.autodev_tmpfs_size,
            tty_max: config.tty.max,
            tty_dir: config.tty.dir.clone().filter(|d| !d.is_empty()),
            pty_max: config.tty.pty_max,
            console: config.console.path.as_deref() != Some("none"),
            cap_drop: config.cap_drop.clone(),
            cap_keep: config.cap_keep.clone(),
            no_new_privs: config.security.no_new_privs,
            seccomp_profile: config
                .security
                .seccomp
                .profile
                .as_ref()
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            sysctls: config.sysctls.clone(),
            prlimits: config.prlimits.clone(),
            procs: config.procs.clone(),
            environment,
            init_uid: config.init.uid.unwrap_or(0),
            init_gid: config.init.gid.unwrap_or(0),
            init_groups: config.init.groups.clone(),
            init_cwd: PathBuf::from(config.init.cwd.as_deref().unwrap_or("/")),
            personality: config.arch.as_ref().map(|a| a.personality),
            time_offsets,
            cgroup_host,
            daemonized,
        })
    }

    /// The staging mount point of the rootfs, or `/` without a rootfs.
    pub fn rootfs_mount(&self) -> &Path {
        self.rootfs
            .as_ref()
            .map(|r| r.mount.as_path())
            .unwrap_or(Path::new("/"))
    }

    /// Does the container get its own user namespace?
    pub fn userns(&self) -> bool {
        self.ns.isolates(Namespace::User)
    }
}
