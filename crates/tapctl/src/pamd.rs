//! pam.d text as libpam reads it: one line split into its fields. Pure functions over text, shared
//! by doctor (which judges the stacks on a host) and the tests (which load every pam.d line the
//! project prints), so both read a line the same way.

/// The types a pam.d rule line starts with (after an optional `-`).
pub const TYPES: [&str; 4] = ["auth", "account", "password", "session"];

/// One pam.d rule: `[-]type control module args...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `auth`, `account`, `password` or `session`, without the `-` that silences a missing module.
    pub kind: String,
    /// `required`, `[success=1 default=ignore]`, `include`, ...
    pub control: String,
    /// The module's path or name (the file to include for `include` and `substack`).
    pub module: String,
    pub args: Vec<String>,
}

/// Splits one pam.d line into its fields at white space; a `[...]` control may hold spaces.
pub fn split_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for ch in line.chars() {
        match ch {
            '[' => {
                depth += 1;
                cur.push(ch)
            }
            ']' => {
                depth -= 1;
                cur.push(ch)
            }
            c if c.is_whitespace() && depth <= 0 => {
                if !cur.is_empty() {
                    fields.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        fields.push(cur);
    }
    fields
}

/// The rule on `line`, if it holds one; `#` starts a comment. `@include` lines, blank lines and
/// text that is not a rule give `None`.
pub fn rule(line: &str) -> Option<Rule> {
    let text = line.split('#').next().unwrap_or("").trim();
    let f = split_fields(text);
    let kind = f.first()?.trim_start_matches('-');
    if f.len() < 3 || !TYPES.contains(&kind) {
        return None;
    }
    Some(Rule {
        kind: kind.to_string(),
        control: f[1].clone(),
        module: f[2].clone(),
        args: f[3..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_is_split_as_libpam_splits_it() {
        let r = rule("-auth [success=end default=ignore]  pam_tap.so config=/x debug # why").unwrap();
        assert_eq!(r.kind, "auth");
        assert_eq!(r.control, "[success=end default=ignore]");
        assert_eq!(r.module, "pam_tap.so");
        assert_eq!(r.args, ["config=/x", "debug"]);
        assert_eq!(
            rule("session optional pam_keyinit.so").unwrap().args,
            Vec::<String>::new()
        );
    }

    #[test]
    fn what_is_not_a_rule_is_none() {
        for text in [
            "",
            "# auth required pam_deny.so",
            "@include common-auth",
            "auth required",
            "Password: x y",
        ] {
            assert_eq!(rule(text), None, "{text:?}");
        }
    }
}
