//! What tapctl's statements on the fleet store are made of: values as the text libpq binds, and
//! INSERTs built from the tables' column lists (names are constants here, every value is bound).

/// A value as the text libpq sends.
pub(super) fn bytea(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * b.len());
    s.push_str("\\x");
    for byte in b {
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

pub(super) fn flag(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// `INSERT INTO table (cols…) VALUES ($1…)`: column names are this file's constants, every value
/// is bound.
pub(super) fn insert_sql(table: &str, cols: &[&str], returning: Option<&str>) -> String {
    let params: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
    let mut sql = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        cols.join(", "),
        params.join(", ")
    );
    if let Some(r) = returning {
        sql.push_str(" RETURNING ");
        sql.push_str(r);
    }
    sql
}

pub(super) fn opt(v: Option<i64>) -> Option<String> {
    v.map(|t| t.to_string())
}

/// The audit table's columns, `id` first (a login's or tapctl's own row leaves it to the sequence).
pub(super) const AUDIT_COLUMNS: [&str; 10] = [
    "id",
    "at",
    "event",
    "user_name",
    "pass_id",
    "operator",
    "service",
    "rhost",
    "reason",
    "host",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_sent_as_postgresql_reads_them() {
        assert_eq!(bytea(&[0, 0xab, 0x10]), "\\x00ab10");
        assert_eq!(bytea(&[]), "\\x");
        assert_eq!(
            insert_sql("pam_tap.meta", &["key", "value"], Some("key")),
            "INSERT INTO pam_tap.meta (key, value) VALUES ($1, $2) RETURNING key"
        );
    }
}
