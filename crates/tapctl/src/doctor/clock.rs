//! The clock: one behind the database's high-water mark or before the build refuses passes.

use super::*;

pub(super) fn stamp(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

pub(super) fn check_clock(opts: &Options, now: i64, high_water: Option<i64>, out: &mut Vec<Check>) {
    const C: &str = "clock";
    let fix = "set the clock: timedatectl set-ntp true (or chronyc makestep)";
    if now < opts.clock_floor {
        out.push(Check::fail(
            C,
            format!(
                "the clock says {}, before this pam_tap was built ({}): validity windows are wrong",
                stamp(now),
                stamp(opts.clock_floor)
            ),
            fix,
        ));
        return;
    }
    match high_water {
        Some(hw) if hw > now => out.push(Check::fail(
            C,
            format!("the clock says {}, before the latest time the database recorded ({}): every pass is refused until the clock catches up", stamp(now), stamp(hw)),
            fix,
        )),
        _ => out.push(Check::ok(C, format!("{} is after the build date and the database's latest record", stamp(now)))),
    }
}
