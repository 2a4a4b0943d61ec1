//! B1–B4: logins through pamtester, the module's own work, logins in parallel, a large store.

use super::*;

/// B1: pamtester, TAP vs the pam_unix yescrypt password, same user.
pub fn section_b1(c: &Ctx, s: &Shared, out: &mut Out) -> R<()> {
    let tap_one = &s.tap_one;
    // pamtester, TAP vs the pam_unix yescrypt password, same user.
    let (mut t_tap, mut t_pw) = (vec![], vec![]);
    for _ in 0..c.n(25) {
        t_tap.push(pamtester("tapbench-tap", "tapb-one", tap_one)?.wall_ms);
        t_pw.push(pamtester("tapbench-unix", "tapb-one", PASSWORD)?.wall_ms);
    }
    let (b1_tap, b1_pw) = (median(&t_tap), median(&t_pw));
    out.rows.push(Row {
        id: "B1",
        what: "pamtester authenticate: TAP ÷ yescrypt password, same user".into(),
        measured: format!("{:.2} ({b1_tap:.1} / {b1_pw:.1} ms)", b1_tap / b1_pw),
        goal: "≤ 1.10".into(),
        pass: Some(b1_tap / b1_pw <= 1.10),
    });
    out.progress("B1 done");
    Ok(())
}

/// B2: the module's own work per authentication, with the KDF made negligible (and on tmpfs).
pub fn section_b2(c: &Ctx, s: &Shared, out: &mut Out) -> R<()> {
    let fsync = s.fsync;
    // The module's own work per authentication, with the KDF made negligible.
    let (b2m, p90) = b2(c, "on", &c.work.join("db/tap.db"))?;
    out.rows.push(Row {
        id: "B2",
        what: "module overhead beside the KDF (config, NSS, open, lookup, consume, audit, close)".into(),
        measured: format!("{b2m:.2} ms (p90 {p90:.2})"),
        goal: "median ≤ 2 ms".into(),
        pass: Some(b2m <= 2.0),
    });
    let (t2m, t90) = b2(c, "tmpfs", &c.work.join("tmpfs/db/tap.db"))?;
    out.rows.push(Row {
        id: "B2t",
        what: "the same with the store on tmpfs (no fsync): the module's CPU work".into(),
        measured: format!("{t2m:.2} ms (p90 {t90:.2})"),
        goal: "(info)".into(),
        pass: None,
    });
    out.notes.push(format!(
            "B2 vs B2t: the difference is the durable commit of the consume (SQLite WAL, synchronous=FULL: the WAL synced, its directory only when the WAL is new; a 4 KiB write+fsync on this disk: median {fsync:.1} ms)"
        ));
    out.progress("B2 done");
    Ok(())
}

/// B3: 64 parallel logins of 64 distinct users holding passes (issued in bulk).
pub fn section_b3(c: &Ctx, s: &Shared, out: &mut Out) -> R<()> {
    let (par, kdf) = (&s.par, s.kdf);
    // 64 parallel logins of 64 distinct users holding passes (issued in bulk).
    let csv: String = par.iter().map(|u| format!("{u}\n")).collect();
    let csv_path = c.work.join("b3.csv");
    std::fs::write(&csv_path, &csv).map_err(|e| e.to_string())?;
    let bulk = |conf| bulk_issue(c, conf, &csv_path, &["--keep-password", "--reusable"]);
    let (passes, passes_t) = (bulk("on")?, bulk("tmpfs")?);
    // "One verify" is one login run alone: the same process, library loading and store work
    // as each of the 64, so the ratio shows what running them at once costs.
    let (mut ratios, mut ratios_t, mut ratios_k, mut walls, mut ideals) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut errors, mut errors_t, mut cpus, mut one_cpus, mut kdfs) = (0usize, 0usize, vec![], vec![], vec![]);
    let (mut one_faults, mut faults) = (vec![], vec![]);
    for _ in 0..c.n(5).min(5) {
        let (_, v) = kdf_ms(&kdf, 5)?;
        let mut alone = vec![];
        for (u, p) in passes.iter().take(9) {
            let f0 = children_minor_faults();
            let (w, cpu) = one_login(c, "tapbench-taponly", u, p)?;
            one_faults.push(children_minor_faults() - f0);
            alone.push(w);
            one_cpus.push(cpu);
        }
        let ideal = 64.0 * median(&alone) / c.cores as f64;
        let f0 = children_minor_faults();
        let (wall, err, cpu) = parallel_logins(c, "tapbench-taponly", &passes)?;
        faults.push((children_minor_faults() - f0) / passes.len() as f64);
        let (wall_t, err_t, _) = parallel_logins(c, "tapbench-taponly-tmpfs", &passes_t)?;
        errors += err;
        errors_t += err_t;
        walls.push(wall);
        ideals.push(ideal);
        cpus.push(cpu);
        kdfs.push(v);
        ratios.push(wall / ideal);
        ratios_t.push(wall_t / ideal);
        ratios_k.push(wall / (64.0 * v / c.cores as f64));
    }
    let r = median(&ratios);
    out.rows.push(Row {
        id: "B3",
        what: format!(
            "64 parallel logins, 64 users: wall ÷ (64 × one login alone ÷ {} cores)",
            c.cores
        ),
        measured: format!(
            "{r:.2} ({:.0} / {:.0} ms), {errors} errors",
            median(&walls),
            median(&ideals)
        ),
        goal: "≤ 1.30, 0 errors".into(),
        pass: Some(r <= 1.30 && errors == 0),
    });
    out.rows.push(Row {
        id: "B3t",
        what: "the same with the store on tmpfs (no fsync)".into(),
        measured: format!("{:.2}, {errors_t} errors", median(&ratios_t)),
        goal: "(info)".into(),
        pass: None,
    });
    out.rows.push(Row {
        id: "B3k",
        what: format!("B3's wall ÷ (64 × in-process argon2id verify ÷ {} cores)", c.cores),
        measured: format!("{:.2}", median(&ratios_k)),
        goal: "(info)".into(),
        pass: None,
    });
    out.notes.push(format!(
            "B3: a login process uses {:.1} ms of CPU alone and {:.1} ms among 64 (argon2id verify in a warm process: {:.1} ms); the rest is exec, libpam, loading the module, and first-touching the KDF's memory ({:.0} minor page faults per login alone, {:.0} among 64)",
            median(&one_cpus),
            median(&cpus),
            median(&kdfs),
            median(&one_faults),
            median(&faults)
        ));
    out.progress("B3 done");
    Ok(())
}

/// B4: one authentication among 100,000 records vs among 10.
pub fn section_b4(c: &Ctx, s: &Shared, out: &mut Out) -> R<()> {
    let kdf = s.kdf;
    let b4 = b4(c, &kdf)?;
    out.rows.push(Row {
        id: "B4",
        what: "one authentication, 100,000 records ÷ 10 records".into(),
        measured: format!("{:.3} ({:.1} / {:.1} ms)", b4.0 / b4.1, b4.0, b4.1),
        goal: "≤ 1.05".into(),
        pass: Some(b4.0 / b4.1 <= 1.05),
    });
    out.notes.push(format!(
        "B4 without the KDF (the module's own work only): {:.2} ms / {:.2} ms = {:.3}",
        b4.2,
        b4.3,
        b4.2 / b4.3
    ));
    out.progress("B4 done");
    Ok(())
}
