//! Tracked objects: how a script's exit codes become up/down (`rise`/`fall`,
//! keepalived's `vrrp_script_child_thread`), and how a tracked object's
//! state moves an instance's priority (`track_interface`, `track_script`
//! weights) or puts it in FAULT (weight 0).

use crate::config::TrackRef;

/// Status of a tracked object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackStatus {
    /// Up (interface up, script succeeded `rise` times).
    Up,
    /// Down.
    Down,
    /// A script that has not reported yet: it adjusts no priority, and a
    /// weight-0 user waits in FAULT until the first result.
    Unknown,
}

/// Priority adjustment of one tracked object for one instance:
/// a positive weight is added while the object is up, a negative one while
/// it is down; `reverse` turns the adjustment the other way; an object that
/// has not reported contributes nothing. Weight 0 contributes nothing (it
/// faults the instance instead, see [`faults`]).
pub fn contribution(t: &TrackRef, status: TrackStatus) -> i32 {
    let c = match status {
        TrackStatus::Unknown => 0,
        TrackStatus::Up if t.weight > 0 => t.weight,
        TrackStatus::Down if t.weight < 0 => t.weight,
        _ => 0,
    };
    if t.reverse { -c } else { c }
}

/// True when the object puts the instance in FAULT (weight 0 and not up).
pub fn faults(t: &TrackRef, status: TrackStatus) -> bool {
    t.weight == 0 && status != TrackStatus::Up
}

/// Rise/fall hysteresis of a `vrrp_script` (`rise` consecutive successes
/// to go up, `fall` consecutive failures to go down). Before the first
/// result the script is [`TrackStatus::Unknown`]: one success is enough to
/// go up, one failure to go down, as in keepalived. With `init_fail` the
/// script starts down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptTracker {
    rise: u32,
    fall: u32,
    /// keepalived's `result`: 0..rise-1 = down, rise..rise+fall-1 = up.
    result: u32,
    reported: bool,
}

impl ScriptTracker {
    /// A tracker; `rise` and `fall` are at least 1.
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> Self {
        let rise = rise.max(1);
        let fall = fall.max(1);
        ScriptTracker {
            rise,
            fall,
            result: if init_fail { 0 } else { rise - 1 },
            reported: init_fail,
        }
    }

    /// Current status.
    pub fn status(&self) -> TrackStatus {
        if !self.reported {
            TrackStatus::Unknown
        } else if self.result >= self.rise {
            TrackStatus::Up
        } else {
            TrackStatus::Down
        }
    }

    /// Record one run (exit status 0 = success; a timeout or a signal is a
    /// failure). Returns the new status when it changed.
    pub fn record(&mut self, success: bool) -> Option<TrackStatus> {
        let before = self.status();
        self.reported = true;
        let top = self.rise + self.fall - 1;
        if success {
            if self.result < self.rise - 1 {
                self.result += 1;
            } else if self.result != top {
                self.result = top;
            }
        } else if self.result > self.rise {
            self.result -= 1;
        } else {
            self.result = 0;
        }
        let after = self.status();
        (after != before).then_some(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrackId;

    fn r(weight: i32, reverse: bool) -> TrackRef {
        TrackRef {
            id: TrackId(0),
            weight,
            reverse,
        }
    }

    #[test]
    fn weights() {
        use TrackStatus::*;
        assert_eq!(contribution(&r(10, false), Up), 10);
        assert_eq!(contribution(&r(10, false), Down), 0);
        assert_eq!(contribution(&r(-20, false), Down), -20);
        assert_eq!(contribution(&r(-20, false), Up), 0);
        assert_eq!(contribution(&r(10, true), Up), -10);
        assert_eq!(contribution(&r(-20, true), Down), 20);
        assert_eq!(contribution(&r(10, false), Unknown), 0);
        assert!(faults(&r(0, false), Down) && faults(&r(0, false), Unknown));
        assert!(!faults(&r(0, false), Up) && !faults(&r(5, false), Down));
    }

    #[test]
    fn rise_and_fall() {
        // rise 2, fall 3: the first result decides at once, then hysteresis.
        let mut s = ScriptTracker::new(2, 3, false);
        assert_eq!(s.status(), TrackStatus::Unknown);
        assert_eq!(s.record(true), Some(TrackStatus::Up));
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(true), None, "a success resets the fall count");
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), Some(TrackStatus::Down));
        assert_eq!(s.record(true), None);
        assert_eq!(s.record(true), Some(TrackStatus::Up));

        let mut f = ScriptTracker::new(2, 2, false);
        assert_eq!(
            f.record(false),
            Some(TrackStatus::Down),
            "first failure goes down"
        );

        let mut i = ScriptTracker::new(3, 1, true);
        assert_eq!(i.status(), TrackStatus::Down);
        assert_eq!(i.record(true), None);
        assert_eq!(i.record(true), None);
        assert_eq!(i.record(true), Some(TrackStatus::Up));
        assert_eq!(i.record(false), Some(TrackStatus::Down), "fall 1");
    }
}
