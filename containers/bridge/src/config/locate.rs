//! Finds where a key sits in a block-style YAML text, for errors found after parsing.

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// The position of the value of `path` (e.g. `["messaging", "url"]`), or of the deepest
/// ancestor found; `None` when not even the first key is in the text.
pub fn locate(text: &str, path: &[&str]) -> Option<Position> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = None;
    let mut range = 0..lines.len();
    let mut parent_indent: Option<usize> = None;
    for key in path {
        let mut hit = None;
        let mut child_indent = None;
        for i in range.clone() {
            let line = lines[i];
            let body = line.trim_start();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            let indent = line.len() - body.len();
            if parent_indent.is_some_and(|p| indent <= p) {
                break;
            }
            let level = *child_indent.get_or_insert(indent);
            if indent != level {
                continue;
            }
            if let Some(rest) = body.strip_prefix(key)
                && let Some(value) = rest.strip_prefix(':')
            {
                let value_col = line.len() - value.trim_start().len();
                let column = if value.trim().is_empty() {
                    indent
                } else {
                    value_col
                };
                hit = Some((i, indent, column));
                break;
            }
        }
        let Some((i, indent, column)) = hit else {
            return found;
        };
        found = Some(Position {
            line: i + 1,
            column: column + 1,
        });
        parent_indent = Some(indent);
        range = (i + 1)..lines.len();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
messaging:
  broker: rabbitmq
  # comment
  url: amqp://10.0.0.1:5672/%2f
  token:
    url: http://127.0.0.1:7000/token
gateway:
  url: http://127.0.0.1:18789
";

    #[test]
    fn finds_nested_keys() {
        assert_eq!(
            locate(TEXT, &["messaging", "url"]),
            Some(Position { line: 4, column: 8 })
        );
        assert_eq!(
            locate(TEXT, &["messaging", "token", "url"]),
            Some(Position {
                line: 6,
                column: 10
            })
        );
        assert_eq!(
            locate(TEXT, &["gateway", "url"]),
            Some(Position { line: 8, column: 8 })
        );
        assert_eq!(
            locate(TEXT, &["gateway", "model"]),
            Some(Position { line: 7, column: 1 }),
            "a missing key points at its parent"
        );
        assert_eq!(locate(TEXT, &["bridge"]), None);
    }
}
