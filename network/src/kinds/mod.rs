//! One module per device type: the host-side creation.

pub(crate) mod phys;
pub(crate) mod veth;
pub(crate) mod virt;
