use super::rows::MAX_ROWS;
use super::*;

#[test]
fn positional_header_quotes_and_comments() {
    let rows =
        parse("# onboarding\nalice\nbob,2h,no,moved desk, new laptop\n\n\"carol\",,yes,\"said \"\"hi\"\"\"\n").unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].user, "alice");
    assert_eq!(rows[0].lifetime, None);
    assert_eq!(rows[1].line, 3);
    assert_eq!(rows[1].lifetime.as_deref(), Some("2h"));
    assert_eq!(rows[1].one_time, Some(false));
    assert_eq!(rows[1].reason.as_deref(), Some("moved desk,new laptop"));
    assert_eq!(rows[2].one_time, Some(true));
    assert_eq!(rows[2].reason.as_deref(), Some("said \"hi\""));

    let rows = parse("user,reason\r\ndave,\"a, b\"\r\n").unwrap();
    assert_eq!(rows[0].user, "dave");
    assert_eq!(rows[0].reason.as_deref(), Some("a, b"));
}

#[test]
fn errors_quote_no_field_but_a_plausible_user_name() {
    let secret = "$y$j9T$SECRETSALT$SECRETHASH";
    for text in [
        format!("root:{secret}:19000:0:99999:7:::\n"),
        format!("user,{secret}\nalice\n"),
        format!("alice,{secret}\n"),
        format!("alice,1h,{secret}\n"),
        format!("alice,1h,yes,{secret}\u{1b}[2J\n"),
        format!("alice,1h,yes,{secret}\u{202e}\n"),
        format!("alice\n{secret}\u{85}x\n"),
    ] {
        let e = parse(&text).unwrap_err().to_string();
        assert!(!e.contains("SECRET"), "{text:?} gave {e:?}");
        assert!(e.starts_with("line "), "{text:?} gave {e:?}");
    }
}

#[test]
fn malformed_csv_names_the_line() {
    for (text, needle) in [
        ("alice\nbob,1h,maybe\n", "line 2: one_time"),
        ("user,colour\nalice,red\n", "line 1: unknown column"),
        ("user\nalice,1h\n", "line 2: 2 fields"),
        ("alice\n\"bob\n", "line 2: unterminated"),
        ("alice\n,1h\n", "line 2: no user"),
        ("# nothing\n", "no rows"),
    ] {
        let e = parse(text).unwrap_err().to_string();
        assert!(e.contains(needle), "{text:?} gave {e:?}");
    }
}

#[test]
fn csv_out_quotes_what_needs_it() {
    let line = |cell: &str| {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["x", cell]).unwrap();
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    };
    assert_eq!(line("a,b"), "x,\"a,b\"\n");
    assert_eq!(line("plain"), "x,plain\n");
    assert_eq!(line("say \"x\""), "x,\"say \"\"x\"\"\"\n");
}

#[test]
fn a_bom_and_crlf_from_a_spreadsheet_are_read() {
    let rows = parse("\u{feff}user,lifetime\r\nalice,2h\r\n  # a note\r\n   \r\n\r\nbob\r\n").unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].user.as_str(), rows[0].lifetime.as_deref()),
        ("alice", Some("2h"))
    );
    assert_eq!((rows[1].line, rows[1].user.as_str()), (6, "bob"));
    let e = parse("user\r\n\r\nalice\r\n\r\nbob,1h\r\n").unwrap_err().to_string();
    assert!(e.starts_with("line 5: 2 fields"), "{e}");
}

#[test]
fn the_host_column_scopes_a_row() {
    let rows = parse("user,host,reason\nalice,ws-0421 ws-0422,new laptop\nbob,,x\ncarol,\"db1;db2\",\n").unwrap();
    assert_eq!(rows[0].hosts, ["ws-0421", "ws-0422"]);
    assert!(rows[1].hosts.is_empty());
    assert_eq!(rows[2].hosts, ["db1", "db2"]);
    // Not a host name: the line is named, the field is not quoted.
    let e = parse("user,host\nalice,SECRET_x\n").unwrap_err().to_string();
    assert_eq!(e, "line 2: the host field is not a list of host names");
    // Positional rows have no host: a fifth field belongs to the reason.
    let rows = parse("alice,1h,yes,moved,ws-0421\n").unwrap();
    assert!(rows[0].hosts.is_empty());
    assert_eq!(rows[0].reason.as_deref(), Some("moved,ws-0421"));
}

#[test]
fn old_mac_line_ends_end_rows_and_comments_alike() {
    // A lone `\r` ended a row but a comment only at the next `\n`: bob was skipped without a
    // word, and every row was on "line 1".
    let rows = parse("alice\r# note\rbob\ncarol\n").unwrap();
    let at: Vec<_> = rows.iter().map(|r| (r.line, r.user.as_str())).collect();
    assert_eq!(at, [(1, "alice"), (3, "bob"), (4, "carol")]);
    let e = parse("alice\rbob,1h,maybe\r").unwrap_err().to_string();
    assert!(e.starts_with("line 2: one_time"), "{e}");
    let e = parse("alice\r\ncarol\rbob,1h,\"open\n").unwrap_err().to_string();
    assert!(e.starts_with("line 3: unterminated"), "{e}");
}

#[test]
fn a_row_after_comments_is_on_its_own_line() {
    // The reader places a row at the comments before it: this was "line 1".
    assert_eq!(parse("# helpdesk\nalice\n").unwrap()[0].line, 2);
    let e = parse("\u{feff}# helpdesk\n# batch 7\n\nalice,1h,maybe\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("line 4: one_time"), "{e}");
}

#[test]
fn a_large_file_is_read_in_one_pass() {
    // Lines were counted from the top for every row: a file of MAX_ROWS rows took minutes.
    let text: String = (0..MAX_ROWS).map(|i| format!("user{i},1h,yes,moved desk\n")).collect();
    let rows = parse(&text).unwrap();
    assert_eq!((rows.len(), rows[MAX_ROWS - 1].line), (MAX_ROWS, MAX_ROWS));
}
