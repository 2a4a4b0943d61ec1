//! B5–B7: bulk issue, memory, and users without a pass.

use super::*;

/// B5: tapctl issue --csv for 1,000 users; B5r the same with the password reset.
pub fn section_b5(c: &Ctx, s: &Shared, out: &mut Out) -> R<()> {
    let (bulk, kdf) = (&s.bulk, s.kdf);
    let csv: String = std::iter::once("user,reason\n".to_string())
        .chain(bulk.iter().map(|u| format!("{u},bench onboarding\n")))
        .collect();
    let csv_path = c.work.join("b5.csv");
    std::fs::write(&csv_path, &csv).map_err(|e| e.to_string())?;
    let csv_arg = csv_path.to_str().unwrap();
    let (mut ratios, mut walls, mut ideals, mut kdf_only) = (vec![], vec![], vec![], vec![]);
    let mut scaling = vec![];
    let mut last = String::new();
    for i in 0..c.n(3).min(3) {
        let (h, _) = kdf_ms(&kdf, 9)?;
        let ideal = 1000.0 * h / c.cores as f64;
        // What the cores really give argon2id when all hash at once (shared caches and memory
        // bandwidth): 1,000 hashes at that rate is the floor for any bulk issue.
        let per_s = kdf_throughput(&kdf, c.cores, 10)?;
        kdf_only.push(1000.0 / per_s * 1e3);
        scaling.push(per_s * h / 1e3);
        let mut a = vec!["issue", "--csv", csv_arg, "--keep-password", "--json"];
        if i > 0 {
            a.push("--replace");
        }
        let t = Instant::now();
        last = tapctl(c, "on", &a)?;
        let wall = ms(t);
        walls.push(wall);
        ideals.push(ideal);
        ratios.push(wall / ideal);
    }
    let n5: Vec<serde_json::Value> = serde_json::from_str(&last).map_err(|e| e.to_string())?;
    if n5.len() != 1000 {
        return Err(format!("B5 issued {} passes, not 1000", n5.len()));
    }
    let (u, p) = (n5[999]["user"].as_str().unwrap(), n5[999]["pass"].as_str().unwrap());
    let r = run(
        Command::new(c.pam_drive()).args(["tapbench-taponly", u, "authenticate"]),
        &format!("{p}\n"),
    )?;
    if !r.stdout.contains("PAM_SUCCESS") {
        return Err(format!("a bulk-issued pass did not log {u} in: {}", r.stdout));
    }
    let b5r = median(&ratios);
    let floor = median(&kdf_only);
    out.rows.push(Row {
        id: "B5",
        what: format!(
            "tapctl issue --csv, 1,000 users (--keep-password) ÷ (1,000 × hash ÷ {} cores)",
            c.cores
        ),
        measured: format!(
            "{b5r:.2} ({:.1} / {:.1} s)",
            median(&walls) / 1e3,
            median(&ideals) / 1e3
        ),
        goal: "≤ 1.30".into(),
        pass: Some(b5r <= 1.30),
    });
    out.rows.push(Row {
        id: "B5k",
        what: format!(
            "the same ÷ 1,000 argon2id hashes on {} threads at once (pure KDF, no pam_tap)",
            c.cores
        ),
        measured: format!(
            "{:.2} ({:.1} / {:.1} s)",
            median(&walls) / floor,
            median(&walls) / 1e3,
            floor / 1e3
        ),
        goal: "(info)".into(),
        pass: None,
    });
    out.notes.push(format!(
            "argon2id on {} threads at once ran {:.2}× as fast as on one (ideal {}×) during this run: what the cores gave the KDF, with the machine's other work, bounds B3 and B5 (bench_kdf on a quiet machine: 1.7×)",
            c.cores,
            median(&scaling),
            c.cores
        ));
    out.progress("B5 done");
    if !c.quick {
        // The same with the default handoff: every account's password reset and a change forced.
        let (h, _) = kdf_ms(&kdf, 9)?;
        let ideal = 1000.0 * h / c.cores as f64;
        let t = Instant::now();
        let issued = tapctl(c, "on", &["issue", "--csv", csv_arg, "--replace", "--json"])?;
        let wall = ms(t);
        let v: Vec<serde_json::Value> = serde_json::from_str(&issued).map_err(|e| e.to_string())?;
        let reset = v.iter().filter(|x| x["reset_password"] == true).count();
        let mut ch = vec![];
        for _ in 0..5 {
            let t = Instant::now();
            sh(Command::new("chage").args(["-d", "0", "--", "tapb-nopass"]), None)?;
            ch.push(ms(t));
            sh(Command::new("chage").args(["-d", "-1", "--", "tapb-nopass"]), None)?;
        }
        let chage = median(&ch);
        out.rows.push(Row {
            id: "B5r",
            what: "the same with the password reset (default): 1 chpasswd + 1,000 chage".into(),
            measured: format!(
                "{:.2} ({:.1} / {:.1} s), {reset} reset",
                wall / ideal,
                wall / 1e3,
                ideal / 1e3
            ),
            goal: "(info)".into(),
            pass: None,
        });
        out.notes.push(format!(
                "B5r is bounded by shadow-utils: each `chage -d 0` rewrites and fsyncs /etc/shadow ({chage:.0} ms here) and shadow has no batch form of it"
            ));
        out.progress("B5r done");
    }
    Ok(())
}

/// B6: peak RSS of one authenticating process; returns what a login costs beside the KDF (KiB).
pub fn section_b6(c: &Ctx, s: &Shared, out: &mut Out) -> R<f64> {
    let (tap_one, kdf) = (&s.tap_one, s.kdf);
    // Peak RSS of one authenticating process, as /usr/bin/time reports it.
    let (mut rss, mut rss_pw) = (vec![], vec![]);
    for _ in 0..c.n(8) {
        rss.push(maxrss_kib("tapbench-tap", "tapb-one", tap_one)?);
        rss_pw.push(maxrss_kib("tapbench-unix", "tapb-one", PASSWORD)?);
    }
    let peak = rss.iter().cloned().fold(0.0, f64::max);
    let peak_pw = rss_pw.iter().cloned().fold(0.0, f64::max);
    let budget = kdf.memory_kib as f64 + 10.0 * 1024.0;
    out.rows.push(Row {
        id: "B6",
        what: format!(
            "peak RSS of pamtester authenticating with a TAP (KDF {} MiB)",
            kdf.memory_kib / 1024
        ),
        measured: format!("{:.1} MiB", peak / 1024.0),
        goal: format!("≤ {:.1} MiB", budget / 1024.0),
        pass: Some(peak <= budget),
    });
    out.notes.push(format!(
        "B6 reference: pamtester with the yescrypt password and no pam_tap peaks at {:.1} MiB",
        peak_pw / 1024.0
    ));
    let per_login_overhead = (peak - kdf.memory_kib as f64).max(0.0);
    out.progress("B6 done");
    Ok(per_login_overhead)
}

/// B7: a user with no pass, whole process, stack with pam_tap vs without.
pub fn section_b7(c: &Ctx, _: &Shared, out: &mut Out) -> R<()> {
    // A user with no pass, whole process, stack with pam_tap vs without.
    let (mut a, mut b, mut e) = (vec![], vec![], vec![]);
    for _ in 0..c.n(25) {
        a.push(pamtester("tapbench-unix", "tapb-nopass", PASSWORD)?.wall_ms);
        b.push(pamtester("tapbench-tapnoeq", "tapb-nopass", PASSWORD)?.wall_ms);
        e.push(pamtester("tapbench-tap", "tapb-nopass", PASSWORD)?.wall_ms);
    }
    let (a, b, e) = (median(&a), median(&b), median(&e));
    out.rows.push(Row {
        id: "B7",
        what: "no-pass user, pamtester: stack with pam_tap ÷ without (equalize_timing off)".into(),
        measured: format!("{:.3} ({b:.1} / {a:.1} ms)", b / a),
        goal: "≤ 1.10".into(),
        pass: Some(b / a <= 1.10),
    });
    out.rows.push(Row {
        id: "B7e",
        what: "the same with equalize_timing on (default)".into(),
        measured: format!("{:.3} ({e:.1} / {a:.1} ms)", e / a),
        goal: "≤ 1.05".into(),
        pass: Some(e / a <= 1.05),
    });
    // B7w: the same user typing a wrong password (pam_unix's fail delay off in both stacks).
    let (mut w_unix, mut w_tap) = (vec![], vec![]);
    for _ in 0..c.n(25) {
        w_unix.push(pamtester_refused("tapbench-unix-nodelay", "tapb-nopass", WRONG_PASSWORD)?.wall_ms);
        w_tap.push(pamtester_refused("tapbench-tap-nodelay", "tapb-nopass", WRONG_PASSWORD)?.wall_ms);
    }
    let (wu, wt) = (median(&w_unix), median(&w_tap));
    out.rows.push(Row {
        id: "B7w",
        what: "B7e with a wrong password (pam_unix nodelay in both stacks)".into(),
        measured: format!("{:.3} ({wt:.1} / {wu:.1} ms)", wt / wu),
        goal: "≤ 1.05".into(),
        pass: Some(wt / wu <= 1.05),
    });
    out.progress("B7 done");
    Ok(())
}
