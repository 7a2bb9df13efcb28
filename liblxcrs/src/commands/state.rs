//! The container lifecycle state, LXC's eight states, with guarded transitions.
//!
//! The monitor owns the state; every change goes through [`State::can_become`] so an
//! impossible sequence (e.g. FROZEN straight to STOPPED without a thaw) is a bug that
//! surfaces as an error instead of a silently wrong answer to `lxc-info`.

use std::fmt;
use std::str::FromStr;

/// A container's lifecycle state, as LXC names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Stopped,
    Starting,
    Running,
    Stopping,
    Aborting,
    Freezing,
    Frozen,
    Thawed,
}

/// Every state in LXC's numbering order (`lxc_state_t`).
pub const ALL: [State; 8] = [
    State::Stopped,
    State::Starting,
    State::Running,
    State::Stopping,
    State::Aborting,
    State::Freezing,
    State::Frozen,
    State::Thawed,
];

impl State {
    /// LXC's upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Stopped => "STOPPED",
            State::Starting => "STARTING",
            State::Running => "RUNNING",
            State::Stopping => "STOPPING",
            State::Aborting => "ABORTING",
            State::Freezing => "FREEZING",
            State::Frozen => "FROZEN",
            State::Thawed => "THAWED",
        }
    }

    /// The state's number on the wire and in state masks.
    pub fn index(self) -> u8 {
        ALL.iter().position(|s| *s == self).map_or(0, |i| i as u8)
    }

    /// The state with wire number `i`.
    pub fn from_index(i: u8) -> Option<State> {
        ALL.get(usize::from(i)).copied()
    }

    /// True when `self → next` is a legal step of the lifecycle.
    ///
    /// STOPPED → STARTING → RUNNING → STOPPING → STOPPED is the main line; a failed start
    /// goes STARTING → ABORTING → STOPPING; freeze is RUNNING → FREEZING → FROZEN and back
    /// through THAWED; a frozen container may be stopped (the monitor thaws it to kill it);
    /// a reboot goes STOPPING → STARTING without passing STOPPED.
    pub fn can_become(self, next: State) -> bool {
        use State::*;
        matches!(
            (self, next),
            (Stopped, Starting)
                | (Starting, Running)
                | (Starting, Aborting)
                | (Starting, Stopping)
                | (Aborting, Stopping)
                | (Aborting, Stopped)
                | (Running, Stopping)
                | (Running, Freezing)
                | (Freezing, Frozen)
                | (Freezing, Running)
                | (Freezing, Stopping)
                | (Frozen, Thawed)
                | (Frozen, Stopping)
                | (Thawed, Running)
                | (Thawed, Stopping)
                | (Stopping, Stopped)
                | (Stopping, Starting)
        )
    }

    /// True while the container has a live init (a pid to report, namespaces to enter).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            State::Running | State::Freezing | State::Frozen | State::Thawed
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown state name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid state {0:?}: expected one of STOPPED STARTING RUNNING STOPPING ABORTING FREEZING FROZEN THAWED")]
pub struct BadState(pub String);

impl FromStr for State {
    type Err = BadState;
    fn from_str(s: &str) -> Result<State, BadState> {
        ALL.iter()
            .copied()
            .find(|st| st.as_str() == s.trim())
            .ok_or_else(|| BadState(s.to_string()))
    }
}

/// A set of states (lxc-wait's `RUNNING|FROZEN`), one bit per [`State::index`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateSet(pub u8);

impl StateSet {
    /// Parses `A|B|C` (surrounding blanks ignored, empty parts rejected).
    pub fn parse(s: &str) -> Result<StateSet, BadState> {
        let mut set = StateSet(0);
        for part in s.split('|') {
            set.insert(part.parse()?);
        }
        Ok(set)
    }

    /// Adds a state.
    pub fn insert(&mut self, st: State) {
        self.0 |= 1 << st.index();
    }

    /// True when the set holds `st`.
    pub fn contains(self, st: State) -> bool {
        self.0 & (1 << st.index()) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in ALL {
            assert_eq!(s.as_str().parse::<State>().unwrap(), s);
            assert_eq!(State::from_index(s.index()), Some(s));
        }
        assert!("running".parse::<State>().is_err());
        assert_eq!(State::from_index(8), None);
    }

    #[test]
    fn guards() {
        use State::*;
        assert!(Stopped.can_become(Starting));
        assert!(Starting.can_become(Running));
        assert!(Running.can_become(Freezing));
        assert!(Frozen.can_become(Thawed));
        assert!(Thawed.can_become(Running));
        assert!(Frozen.can_become(Stopping));
        assert!(Stopping.can_become(Starting), "reboot");
        assert!(!Stopped.can_become(Running));
        assert!(!Running.can_become(Frozen));
        assert!(!Frozen.can_become(Running));
        assert!(!Frozen.can_become(Stopped));
        assert!(!Running.can_become(Stopped));
        for s in ALL {
            assert!(!s.can_become(s), "{s} to itself");
        }
    }

    #[test]
    fn sets() {
        let set = StateSet::parse("RUNNING|FROZEN").unwrap();
        assert!(set.contains(State::Running) && set.contains(State::Frozen));
        assert!(!set.contains(State::Stopped));
        assert!(StateSet::parse("RUNNING|").is_err());
        assert!(StateSet::parse("BOGUS").is_err());
    }
}
