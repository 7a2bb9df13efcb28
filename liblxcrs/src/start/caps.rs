//! `lxc.cap.drop` / `lxc.cap.keep`: remove capabilities from the bounding set, so that no
//! process of the container (init is exec'd as root) can ever hold them. Only the bounding
//! set is touched, as LXC does: the child still needs its full effective set to finish
//! setting up (seccomp, hooks, setuid).

use caps::{CapSet, Capability as Cap};
use lxcrs_config::model::{CapKeep, Capability};

use super::StartError;

/// The capability numbers to drop, among those the kernel `supported`.
pub fn to_drop(drop: &[Capability], keep: &CapKeep, supported: &[u32]) -> Vec<u32> {
    let mut out: Vec<u32> = match keep {
        CapKeep::Unset => drop
            .iter()
            .map(|c| c.0)
            .filter(|c| supported.contains(c))
            .collect(),
        CapKeep::None => supported.to_vec(),
        CapKeep::Only(list) => supported
            .iter()
            .copied()
            .filter(|c| !list.iter().any(|k| k.0 == *c))
            .collect(),
    };
    out.sort_unstable();
    out.dedup();
    out
}

/// Drop them from this process's bounding set.
pub fn apply(drop: &[Capability], keep: &CapKeep) -> Result<(), StartError> {
    if drop.is_empty() && !keep.is_set() {
        return Ok(());
    }
    let supported: Vec<Cap> = caps::runtime::thread_all_supported().into_iter().collect();
    let numbers: Vec<u32> = supported.iter().map(|c| u32::from(c.index())).collect();
    for n in to_drop(drop, keep, &numbers) {
        let Some(cap) = supported.iter().find(|c| u32::from(c.index()) == n) else {
            continue;
        };
        caps::drop(None, CapSet::Bounding, *cap).map_err(|e| StartError::Sys {
            op: format!("drop capability {cap} from the bounding set ({e})"),
            errno: nix::errno::Errno::last(),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_and_keep_lists() {
        let supported: Vec<u32> = (0..=40).collect();
        let c = |s: &str| Capability::parse(s).unwrap();
        assert_eq!(
            to_drop(
                &[c("sys_module"), c("mac_admin"), c("sys_time")],
                &CapKeep::Unset,
                &supported
            ),
            [16, 25, 33]
        );
        let keep = CapKeep::Only(vec![c("chown"), c("sys_admin")]);
        let d = to_drop(&[], &keep, &supported);
        assert_eq!(d.len(), 39);
        assert!(!d.contains(&0) && !d.contains(&21));
        assert_eq!(to_drop(&[], &CapKeep::None, &[0, 1]), [0, 1]);
        assert_eq!(
            to_drop(&[c("checkpoint_restore")], &CapKeep::Unset, &[0, 1]),
            Vec::<u32>::new()
        );
    }
}
