//! `pivot_root` into the rootfs. The `pivot_root(".", ".")` idiom stacks the old root on
//! top of the new one, so no put_old directory is needed inside the container; the old
//! root is made a recursive slave (its unmount must not propagate to the host) and lazily
//! detached. Finally the new tree is made recursively shared: systemd's container
//! interface requires it (systemd does not do it itself inside a container), and since the
//! tree is still a slave of the host's, host mounts keep propagating in while nothing
//! propagates out.

use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

use super::syscall::Syscall;
use super::StartError;

/// Switch the root to `new_root` and drop the old one.
pub fn pivot(sys: &dyn Syscall, new_root: &Path) -> Result<(), StartError> {
    let dot = Path::new(".");
    sys.chdir(new_root)
        .map_err(|e| StartError::sys(format!("chdir to {}", new_root.display()), e))?;
    sys.pivot_root(dot, dot)
        .map_err(|e| StartError::sys(format!("pivot_root into {}", new_root.display()), e))?;
    sys.mount(None, dot, None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)
        .map_err(|e| StartError::sys("make the old root rslave", e))?;
    sys.umount2(dot, MntFlags::MNT_DETACH)
        .map_err(|e| StartError::sys("detach the old root", e))?;
    sys.chdir(Path::new("/"))
        .map_err(|e| StartError::sys("chdir to the new /", e))?;
    sys.mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_SHARED | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| StartError::sys("make the container's mount tree rshared", e))
}
