//! IAM wildcard matching: `*` is any run of characters (including none), `?` is exactly one.
//! Used for `Action`, `Resource`, `String*Like` and `Arn*` values.

/// Matches `text` against `pattern`; iterative, so a hostile pattern cannot blow the stack.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Where the last `*` was seen, and the text position it currently absorbs up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Case-insensitive variant, for action names (`ECS:runtask` is `ecs:RunTask`).
pub fn matches_ignore_case(pattern: &str, text: &str) -> bool {
    matches(&pattern.to_ascii_lowercase(), &text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*", ""));
        assert!(matches(
            "arn:aws:ecs:*:111:task-definition/app:*",
            "arn:aws:ecs:us-east-1:111:task-definition/app:7"
        ));
        assert!(!matches(
            "arn:aws:ecs:*:111:task-definition/app:*",
            "arn:aws:ecs:us-east-1:111:task-definition/app2:7"
        ));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(!matches("abc", "abcd"));
        assert!(matches("*:*", "x:y"));
        assert!(matches_ignore_case("ECS:Run*", "ecs:RunTask"));
        assert!(!matches("ECS:Run*", "ecs:RunTask"));
    }
}
