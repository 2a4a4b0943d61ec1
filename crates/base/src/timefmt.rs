//! Times as people and JSON read them: RFC 3339, UTC. Shared by the store's audit rows and tapctl.

/// `t` (Unix seconds) as RFC 3339; the bare number when it is out of chrono's range.
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_else(|| t.to_string())
}

/// serde `serialize_with` for a Unix time.
pub fn ser_time<S: serde::Serializer>(v: &i64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*v))
}
