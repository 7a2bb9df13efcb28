//! Thin wrappers over Linux calls that several layers share: signals through a pidfd, and
//! one-message send/receive with fds on a `SOCK_SEQPACKET` socket.

pub(crate) mod pidfd;
pub(crate) mod seqpacket;
