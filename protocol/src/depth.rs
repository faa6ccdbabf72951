//! A nesting-depth check that runs before a spec is parsed. YAML parsers
//! spend time quadratic in nesting depth (`[[[[…` 200 KB deep took 20 s),
//! and a sweep spec needs a handful of levels, so text nested deeper than
//! the limit is refused after one linear pass, before any parser sees it.

/// The deepest a spec may nest: flow collections (`[`, `{`) and block
/// levels (indentation, `- ` items) together.
pub const MAX_DEPTH: usize = 32;

/// The first line (1-based) where `text` nests deeper than `limit`, or
/// `None`. Quoted strings and comments do not count; JSON is read as the
/// flow YAML it is.
pub fn too_deep(text: &str, limit: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    // Indentation columns of the open block levels.
    let mut blocks: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut line = 1;
    let mut i = 0;
    let mut at_line_start = true;
    while i < bytes.len() {
        if at_line_start && flow == 0 {
            at_line_start = false;
            let mut col = 0;
            while i < bytes.len() && bytes[i] == b' ' {
                col += 1;
                i += 1;
            }
            let blank = i >= bytes.len() || matches!(bytes[i], b'\n' | b'\r' | b'#');
            if !blank {
                while blocks.last().is_some_and(|&open| open >= col) {
                    blocks.pop();
                }
                blocks.push(col);
                // `- - - x` opens one sequence per dash on a single line.
                while i + 1 < bytes.len() && bytes[i] == b'-' && matches!(bytes[i + 1], b' ' | b'\t') {
                    col += 2;
                    i += 2;
                    while i < bytes.len() && bytes[i] == b' ' {
                        col += 1;
                        i += 1;
                    }
                    blocks.push(col);
                }
                if blocks.len() > limit {
                    return Some(line);
                }
            }
            continue;
        }
        match bytes[i] {
            b'\n' => {
                line += 1;
                at_line_start = true;
            }
            b'[' | b'{' => {
                flow += 1;
                if flow + blocks.len() > limit {
                    return Some(line);
                }
            }
            b']' | b'}' => flow = flow.saturating_sub(1),
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    } else if bytes[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            // A quote inside a plain word (`it's`) opens nothing.
            b'\'' if i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'[' | b'{' | b',' | b':' | b'\n') => {
                i += 1;
                loop {
                    while i < bytes.len() && bytes[i] != b'\'' {
                        if bytes[i] == b'\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                    // `''` is a quote inside the string, not its end.
                    if i + 1 < bytes.len() && bytes[i + 1] == b'\'' {
                        i += 2;
                    } else {
                        break;
                    }
                }
            }
            b'#' if i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'\n') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_specs_pass() {
        let spec = "name: x # a [comment\nmethod: grid\nbase:\n  aom: {labels: ratio, eps: [0.1]}\n  note: 'it''s [fine'\nparameters:\n  method: {values: [erm, \"a]b\", mixup]}\n  lr:\n    values:\n      - - 0.1\n        - 0.2\n";
        assert_eq!(too_deep(spec, MAX_DEPTH), None);
        assert_eq!(too_deep(r#"{"a": {"b": [1, {"c": "[[[["}]}}"#, MAX_DEPTH), None);
    }

    #[test]
    fn deep_flow_block_and_dash_nesting_are_caught() {
        assert_eq!(too_deep(&"[".repeat(100_000), MAX_DEPTH), Some(1));
        assert_eq!(too_deep(&format!("a:\n{}", "{\"k\": ".repeat(40)), MAX_DEPTH), Some(2));
        let block: String = (0..40).map(|d| format!("{}k{d}:\n", " ".repeat(d))).collect();
        assert_eq!(too_deep(&block, MAX_DEPTH), Some(MAX_DEPTH + 1));
        assert_eq!(too_deep(&format!("x: 1\n{}1\n", "- ".repeat(40)), MAX_DEPTH), Some(2));
        // Exactly at the limit passes; the line's own block level counts.
        assert_eq!(too_deep(&"[".repeat(MAX_DEPTH - 1), MAX_DEPTH), None);
        assert_eq!(too_deep(&"[".repeat(MAX_DEPTH), MAX_DEPTH), Some(1));
    }
}
